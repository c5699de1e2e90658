"""Redacting secrets from log lines (`trading_signals/logging.py`)."""

from trading_signals.logging import redact


def test_secrets_never_reach_a_log_line():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = redact(
        f'headers {{"Authorization": "Bearer {jwt}", "password": "hunter2", "totp": "123456"}}'
    )

    assert jwt not in line and "hunter2" not in line and "123456" not in line
