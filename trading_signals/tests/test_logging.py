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


def test_credentials_in_urls_are_redacted_and_the_rest_of_the_url_kept():
    def emit(logger):
        logger.error("cache unreachable at %s", "redis://:hunter2@cache.internal:6379/0")
        try:
            raise ConnectionError("mongodb+srv://trader:p@ss@cluster0.example.net/trading")
        except ConnectionError:
            logger.exception("store down")

    text = logged_text(emit)

    assert "redis://[redacted]@cache.internal:6379/0" in text
    assert "mongodb+srv://[redacted]@cluster0.example.net/trading" in text
    assert "hunter2" not in text and "p@ss" not in text


def test_urls_without_credentials_and_email_addresses_are_left_alone():
    line = "see https://example.com/users/@bob?next=a@b or mail bob@example.com"

    assert redact(line) == line
