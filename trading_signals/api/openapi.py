"""The errors operations document in /openapi.json: each in the one error shape, each
described once."""

from drf_spectacular.utils import OpenApiResponse

from trading_signals.api.serializers import ErrorSerializer


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


BAD_INPUT = error_response("Invalid input; `errors` names each bad field or parameter.")
UNAUTHORIZED = error_response("Missing, invalid or expired credentials.")
THROTTLED = error_response("Too many requests; Retry-After says when to try again.")
# What every operation that needs an access token may answer.
SIGNED_IN: dict[int, OpenApiResponse] = {401: UNAUTHORIZED}
