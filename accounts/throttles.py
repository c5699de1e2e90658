"""Limits on signing in: per client address (login, register and /admin/login/ share one count)
and per account (the normalised email, from any address), for the API and the admin alike."""

from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import normalize_email
from trading_signals.api.throttling import (
    ClientRateThrottle,
    WindowRateThrottle,
    attempt_count,
    client_address,
)

CLIENT_SCOPE = "auth"
ACCOUNT_SCOPE = "login-account"


class AuthClientThrottle(ClientRateThrottle):
    scope = CLIENT_SCOPE
    rate_setting = "AUTH_THROTTLE_RATE"


class LoginAccountThrottle(WindowRateThrottle):
    scope = ACCOUNT_SCOPE
    rate_setting = "AUTH_ACCOUNT_THROTTLE_RATE"

    def key(self, request: Request, view: APIView) -> str | None:
        data = request.data
        email = data.get("email") if isinstance(data, Mapping) else None
        return normalize_email(email) if isinstance(email, str) and email.strip() else None


def login_attempt_wait(*, request: HttpRequest, email: str | None) -> float | None:
    """Count a login attempt outside DRF (the admin's): None if allowed, else seconds to wait."""
    waits = [
        attempt_count(
            scope=CLIENT_SCOPE, key=client_address(request), rate=settings.AUTH_THROTTLE_RATE
        )
    ]
    if email and email.strip():
        waits.append(
            attempt_count(
                scope=ACCOUNT_SCOPE,
                key=normalize_email(email),
                rate=settings.AUTH_ACCOUNT_THROTTLE_RATE,
            )
        )
    refused = [wait for wait in waits if wait is not None]
    return max(refused) if refused else None
