"""Logging plumbing for LOGGING (trading_signals/settings/logging.py): secret redaction, and a
rotating file handler that creates its own folder. The same redaction masks the credentials in
URLs on Django's error pages (DEFAULT_EXCEPTION_REPORTER_FILTER, settings/security.py)."""

import logging
import logging.handlers
import os
import re
from pathlib import Path
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

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
# The user and password of a URL (`redis://:password@host`, `mongodb+srv://user:pw@...`): all
# up to the authority's last `@`, since passwords are often written with an unescaped `@`.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def mask_url_credentials(text: str) -> str:
    return _URL_CREDENTIALS.sub(r"\1[redacted]@", text)


def redact(text: str) -> str:
    text = _JWT.sub("[redacted]", text)
    return mask_url_credentials(_SECRET_PAIR.sub(r"\1\2[redacted]", text))


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


class CredentialsMaskingReporterFilter(SafeExceptionReporterFilter):
    """Django's filter for error pages (settings named like secrets are hidden), which also masks
    the credentials of every URL in the other settings, nested ones included (CACHES,
    CHANNEL_LAYERS, DATABASES' MongoDB HOST), and in the failing frames' string variables."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        return mask_url_credentials(cleansed) if isinstance(cleansed, str) else cleansed

    def cleanse_special_types(self, request: HttpRequest | None, value: Any) -> Any:
        cleansed = super().cleanse_special_types(request, value)
        return mask_url_credentials(cleansed) if isinstance(cleansed, str) else cleansed
