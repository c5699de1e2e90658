"""Logging plumbing for LOGGING (trading_signals/settings/logging.py): secret redaction, and a
rotating file handler that creates its own folder."""

import logging
import logging.handlers
import os
import re
from pathlib import Path
from typing import Any

# Values that look like secrets (JWTs, and the values of secret-named keys) are masked in
# every log record, including records from third-party libraries such as smartapi-python.
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (["']?(?:password|passwd|totp|secret|api[_-]?key|x-privatekey|authorization|token|
    jwttoken|refreshtoken|feedtoken|access_token|refresh_token)["']?\s*[:=]\s*)
    (["']?)(?:bearer\s+)?[^"',\s}&]+
    """
)


def redact(text: str) -> str:
    text = _JWT.sub("[redacted]", text)
    return _SECRET_PAIR.sub(r"\1\2[redacted]", text)


_FORMATTER = logging.Formatter()


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in the message, in the formatted exception (its message and traceback)
    and in the stack text: everything a formatter writes out."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set instead of formatting exc_info again.
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class FolderCreatingRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler that creates its file's folder (LOG_DIR) first.

    The folder is made when logging is configured (django.setup), not when settings are imported.
    """

    def __init__(self, filename: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, *args, **kwargs)
