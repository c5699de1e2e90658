"""One handler that makes every endpoint fail the same way, domain errors included; and the
404 and 500 pages Django itself serves, in the same shape on API paths.

Error bodies look like `{"detail": "...", "errors": {"field": ["reason", ...]}}`.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from trading_signals.errors import ApplicationError


def _as_drf_error(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return exceptions.ValidationError(detail)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        body = {"detail": exc.message, "errors": exc.errors}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)

    exc = _as_drf_error(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "errors": {}}
    return response


API_PREFIX = "/api/"


def _json_error(*, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": {}}, status=status)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: a URL no route matches. API clients get the error shape, browsers a page."""
    if request.path.startswith(API_PREFIX):
        return _json_error(detail=str(exceptions.NotFound.default_detail), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: an uncaught exception, in the error shape on API paths."""
    if request.path.startswith(API_PREFIX):
        return _json_error(detail=str(exceptions.APIException.default_detail), status=500)
    return defaults.server_error(request)
