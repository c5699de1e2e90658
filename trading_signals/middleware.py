"""Request logging without query strings (they may carry a token), the body limit, and the
admin's clock (IST)."""

import io
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

logger = logging.getLogger("trading_signals.requests")


class RequestLogMiddleware:
    """Logs method, path, status and duration. The query string is left out: it may hold a token."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_ms
        )
        return response


# The admin's forms have Django's own limits (DATA_UPLOAD_MAX_MEMORY_SIZE and friends).
UNLIMITED_PREFIXES = ("/admin/",)


def _error(status: int, detail: str) -> JsonResponse:
    """The API's error shape (trading_signals.api.errors), for answers given before DRF."""
    return JsonResponse({"detail": detail, "errors": {}}, status=status)


class BodyLimitMiddleware:
    """Every request outside the admin carries at most API_MAX_BODY_BYTES, or gets a 413 in the
    API's error shape before anything reads or parses its body.

    A declared Content-Length over the limit is refused unread. A body without one (chunked)
    is read up to one byte past the limit, refused if it goes past, and otherwise handed on
    as if it had never been read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(UNLIMITED_PREFIXES):
            return self.get_response(request)
        limit: int = settings.API_MAX_BODY_BYTES
        too_large = _error(413, f"The request body is larger than {limit} bytes.")
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared:
            if not (declared.isascii() and declared.isdigit()):
                return _error(400, "The Content-Length header is not a number of bytes.")
            if int(declared) > limit:
                return too_large
        else:
            body = request.read(limit + 1)
            if len(body) > limit:
                return too_large
            # What HttpRequest.body leaves behind: the bytes kept, a fresh stream over them.
            request._body = body
            request._stream = io.BytesIO(body)
            request._read_started = False  # type: ignore[attr-defined]
        return self.get_response(request)


class AdminTimeZoneMiddleware:
    """The admin shows times in ADMIN_TIME_ZONE (IST, the market's clock: a tick at 10:41 IST
    reads 10:41). Only there: storage, the API and /ws stay in UTC (TIME_ZONE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.zone = ZoneInfo(settings.ADMIN_TIME_ZONE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(UNLIMITED_PREFIXES):
            return self.get_response(request)
        with timezone.override(self.zone):
            return self.get_response(request)
