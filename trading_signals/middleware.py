"""Request logging without query strings (they may carry a token)."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
