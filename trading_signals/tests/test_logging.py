"""Redacting secrets from log lines (`trading_signals/logging.py`)."""

import io
import logging

from trading_signals.logging import RedactSecretsFilter, redact


def test_secrets_never_reach_a_log_line():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = redact(
        f'headers {{"Authorization": "Bearer {jwt}", "password": "hunter2", "totp": "123456"}}'
    )

    assert jwt not in line and "hunter2" not in line and "123456" not in line


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2lnbmF0dXJl"


def logged_text(emit) -> str:
    """What a handler configured like LOGGING's (the redaction filter, the plain format) writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("trading_signals.tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_secrets_in_an_exception_and_its_traceback_are_redacted():
    def emit(logger):
        token = JWT  # a local of the failing frame: shown by tracebacks that show locals
        try:
            raise ValueError(f"login failed: password=hunter2 token {token}")
        except ValueError:
            logger.exception("Angel One login failed")

    text = logged_text(emit)

    assert "Angel One login failed" in text and "ValueError: login failed" in text
    assert "Traceback" in text
    assert JWT not in text and "hunter2" not in text


def test_secrets_in_the_stack_text_are_redacted():
    def emit(logger):
        # The stack shows this source line, secret and all.
        logger.warning("slow", stack_info=True, extra={"note": "password=hunter2"})

    text = logged_text(emit)

    assert "Stack (most recent call last)" in text and "extra=" in text
    assert "hunter2" not in text
