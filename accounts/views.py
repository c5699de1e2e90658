"""The auth endpoints: register, login, refresh, logout and me; and the admin's login, with the
same limits as the API's."""

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts import services
from accounts.serializers import (
    LoginInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenPairSerializer,
    UserOutputSerializer,
)
from accounts.throttles import AuthClientThrottle, LoginAccountThrottle, login_attempt_wait
from trading_signals.api.inputs import validated
from trading_signals.api.openapi import BAD_INPUT, SIGNED_IN, UNAUTHORIZED, error_response

F = TypeVar("F", bound=Callable[..., Any])

THROTTLED = error_response(
    "Too many attempts from this address (or, to log in, for this account); see Retry-After."
)


def _auth_docs(
    request: type[Serializer[Any]], responses: dict[int, Any], description: str | None = None
) -> Callable[[F], F]:
    """The OpenAPI description of an auth endpoint; each may answer 400 naming the fields."""
    return extend_schema(
        tags=["auth"],
        request=request,
        responses={**responses, 400: BAD_INPUT},
        description=description,
    )


def _pair_response(pair: services.TokenPair) -> Response:
    return Response(TokenPairSerializer(asdict(pair)).data)


class PublicAuthView(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    # JSON bodies only, as documented: another type is a 415 in the error shape. (A malformed
    # multipart body never reached Django: Twisted answered it with a bare 400 under daphne.)
    parser_classes: list[type[BaseParser]] = [JSONParser]

    def get_authenticate_header(self, request: Request) -> str:
        # Without an authenticator DRF would turn a 401 into a 403; these views answer 401.
        return 'Bearer realm="api"'


class RegisterView(PublicAuthView):
    throttle_classes = [AuthClientThrottle]

    @_auth_docs(RegisterInputSerializer, {201: UserOutputSerializer, 429: THROTTLED})
    def post(self, request: Request) -> Response:
        user = services.user_create(**validated(RegisterInputSerializer, request.data))
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(PublicAuthView):
    throttle_classes = [AuthClientThrottle, LoginAccountThrottle]

    @_auth_docs(LoginInputSerializer, {200: TokenPairSerializer, 401: UNAUTHORIZED, 429: THROTTLED})
    def post(self, request: Request) -> Response:
        return _pair_response(services.auth_login(**validated(LoginInputSerializer, request.data)))


class RefreshView(PublicAuthView):
    @_auth_docs(
        RefreshInputSerializer,
        {200: TokenPairSerializer, 401: UNAUTHORIZED},
        "Rotates the pair: the refresh token sent is blacklisted.",
    )
    def post(self, request: Request) -> Response:
        return _pair_response(
            services.auth_refresh(**validated(RefreshInputSerializer, request.data))
        )


class LogoutView(PublicAuthView):
    @_auth_docs(
        RefreshInputSerializer,
        {204: None, 401: UNAUTHORIZED},
        "Blacklists the refresh token. Access tokens expire on their own.",
    )
    def post(self, request: Request) -> Response:
        services.auth_logout(**validated(RefreshInputSerializer, request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(tags=["auth"], responses={200: UserOutputSerializer, **SIGNED_IN})
    def get(self, request: Request) -> Response:
        return Response(UserOutputSerializer(request.user).data)


@sensitive_post_parameters("password")
@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """Django admin's login, counted against the same limits as the API's login: per client
    address and per account. Only submitted forms count; a refused one is not checked."""
    if request.method == "POST":
        wait = login_attempt_wait(request=request, email=request.POST.get("username"))
        if wait is not None:
            seconds = math.ceil(wait)
            response = HttpResponse(
                f"Too many login attempts. Try again in {seconds} seconds.\n",
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(seconds)
            return response
    return admin.site.login(request)
