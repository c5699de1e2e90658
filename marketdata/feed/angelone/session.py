"""Log in to Angel One and refresh the session through smartapi-python's `SmartConnect`.

smartapi-python is imported lazily, here only, and kept quiet:
- `import SmartApi` asks a public IP-lookup service for the machine's address, without a
  timeout, in `SmartConnect`'s class body, then throws the answer away (its `finally:` sets a
  fixed address). The lookup is skipped.
- `SmartConnect()` creates `logs/<date>/app.log` in the current directory, and a failed call
  logs the request headers and body (JWT, API key, password, TOTP) to logzero's logger. The
  file is not created and that logger is switched off; this module logs what matters itself.
Calls are blocking (requests); the Angel One source runs them in a worker thread.
"""

import functools
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import jwt
import logzero
import pyotp
import requests
from django.conf import settings

from marketdata.feed.errors import AngelOneSessionError, FeedConfigurationError, FeedError

logger = logging.getLogger(__name__)

CREDENTIAL_SETTINGS = {
    "api_key": "ANGEL_ONE_API_KEY",
    "client_id": "ANGEL_ONE_CLIENT_ID",
    "password": "ANGEL_ONE_PASSWORD",
    "totp_key": "ANGEL_ONE_TOTP_KEY",
}
# What Angel One's login refusals point at (its error code, or a word in its message).
_REFUSALS = (
    ({"AG8004"}, "api key", "ANGEL_ONE_API_KEY"),
    ({"AB1050"}, "totp", "ANGEL_ONE_TOTP_KEY"),
    ({"AB1000", "AB1002"}, "password", "ANGEL_ONE_PASSWORD"),
    ({"AB1001", "AB1032"}, "client", "ANGEL_ONE_CLIENT_ID"),
)
REQUEST_TIMEOUT_SECONDS = 10


def angelone_configured() -> bool:
    """Any ANGEL_ONE_* credential is set (a missing one is named when a login is tried)."""
    return any(getattr(settings, variable) for variable in CREDENTIAL_SETTINGS.values())


_import_lock = threading.Lock()


class AngelOneUnavailable(FeedError):  # noqa: N818 (a state, not a programming error)
    """Angel One could not be reached or answered with a transient failure; retry later."""


@dataclass(frozen=True)
class Credentials:
    api_key: str = field(repr=False)
    client_id: str
    password: str = field(repr=False)
    totp_key: str = field(repr=False)

    @classmethod
    def from_settings(cls) -> "Credentials":
        """The ANGEL_ONE_* settings; a missing one raises an error naming it."""
        values = {
            name: getattr(settings, variable, "") for name, variable in CREDENTIAL_SETTINGS.items()
        }
        for name, variable in CREDENTIAL_SETTINGS.items():
            if not values[name]:
                raise FeedConfigurationError(variable, "is not set (the Angel One source needs it)")
        return cls(**values)

    def totp(self) -> str:
        try:
            return pyotp.TOTP(self.totp_key).now()
        except (ValueError, TypeError) as exc:
            raise FeedConfigurationError(
                "ANGEL_ONE_TOTP_KEY", "is not a valid base32 TOTP seed"
            ) from exc


@dataclass(frozen=True)
class LoginSession:
    jwt: str = field(repr=False)
    refresh_token: str = field(repr=False)
    feed_token: str = field(repr=False)
    expires_at: datetime | None  # the JWT's own `exp`, when it has one


@functools.cache
def _smart_connect_class() -> type:
    with _import_lock:
        logzero.logger.disabled = True  # smartapi-python's logger: failed calls log secrets there
        real_get = requests.get
        # Read once, by `from requests import get` at import; a deliberate stand-in.
        requests.get = _skip_ip_lookup  # type: ignore[assignment]
        try:
            from SmartApi import smartConnect
        finally:
            requests.get = real_get
        _silence(smartConnect)
        connect_class: type = smartConnect.SmartConnect  # the package is untyped
        return connect_class


def _skip_ip_lookup(*args: Any, **kwargs: Any) -> None:
    raise OSError("smartapi-python's import-time IP lookup is skipped")


def _silence(module: Any) -> None:
    # smartapi-python's smartConnect module: its globals are replaced, which ModuleType's
    # type does not allow.
    module.logzero = SimpleNamespace(logfile=lambda *args, **kwargs: None)
    module.os = SimpleNamespace(path=os.path, makedirs=lambda *args, **kwargs: None)


class SmartApiClient:
    """One Angel One login (client code) with its SmartConnect; blocking calls."""

    def __init__(self, *, credentials: Credentials, api_url: str) -> None:
        self.credentials = credentials
        self.api_url = api_url
        self._smart: Any = None

    def login(self) -> LoginSession:
        creds = self.credentials
        smart = _smart_connect_class()(
            api_key=creds.api_key, root=self.api_url, timeout=REQUEST_TIMEOUT_SECONDS
        )
        envelopes = _remember_envelopes(smart)
        try:
            answer = self._call(
                smart.generateSession, creds.client_id, creds.password, creds.totp()
            )
        except AngelOneSessionError as exc:
            # SmartConnect indexes into envelopes it does not expect ({"success": false, ...}).
            if not envelopes:
                raise
            raise _refusal(envelopes[-1]) from exc
        if not answer.get("status"):
            raise _refusal(answer)
        self._smart = smart
        return _session(answer["data"])

    def refresh(self, session: LoginSession) -> LoginSession:
        """A new JWT and feed token from the refresh token (Angel One's generateTokens)."""
        if self._smart is None:
            raise AngelOneSessionError("no session to refresh")
        self._smart.setAccessToken(session.jwt)
        answer = self._call(self._smart.generateToken, session.refresh_token)
        if not answer.get("status"):
            raise AngelOneSessionError(f"refresh refused: {_describe(answer)}")
        return _session({"refreshToken": session.refresh_token, **answer["data"]})

    @staticmethod
    def _call(method: Any, *args: Any) -> dict[str, Any]:
        try:
            answer = method(*args)
        except requests.RequestException as exc:
            raise AngelOneUnavailable(f"Angel One unreachable: {type(exc).__name__}") from exc
        except (KeyError, TypeError) as exc:
            # SmartConnect indexes into error envelopes it does not expect (403 on REST).
            raise AngelOneSessionError("Angel One refused the session") from exc
        except Exception as exc:  # SmartApi's own exception types carry the server message
            raise AngelOneUnavailable(f"Angel One call failed: {type(exc).__name__}") from exc
        if not isinstance(answer, dict):
            raise AngelOneUnavailable("Angel One answered with something other than JSON")
        return answer


def _remember_envelopes(smart: Any) -> list[dict[str, Any]]:
    envelopes: list[dict[str, Any]] = []
    request = smart._request

    def remembering(*args: Any, **kwargs: Any) -> Any:
        answer = request(*args, **kwargs)
        envelopes.append(answer)
        return answer

    smart._request = remembering
    return envelopes


def _session(data: dict[str, Any]) -> LoginSession:
    token = str(data["jwtToken"]).removeprefix("Bearer ")
    return LoginSession(
        jwt=token,
        refresh_token=data["refreshToken"],
        feed_token=data["feedToken"],
        expires_at=_expiry(token),
    )


def _expiry(token: str) -> datetime | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return datetime.fromtimestamp(exp, tz=UTC) if isinstance(exp, int | float) else None


def _describe(answer: dict[str, Any]) -> str:
    code = answer.get("errorcode") or answer.get("errorCode") or "no code"
    return f"{answer.get('message') or 'no message'} ({code})"


def _refusal(answer: dict[str, Any]) -> FeedError:
    code = str(answer.get("errorcode") or answer.get("errorCode") or "")
    message = str(answer.get("message") or "").lower()
    for codes, word, variable in _REFUSALS:
        if code in codes or word in message:
            return FeedConfigurationError(
                variable, f"Angel One refused the login: {_describe(answer)}"
            )
    return AngelOneUnavailable(f"Angel One refused the login: {_describe(answer)}")


def stream_headers(*, credentials: Credentials, session: LoginSession) -> dict[str, str]:
    """The headers of the WebSocket 2.0 handshake."""
    return {
        "Authorization": f"Bearer {session.jwt}",
        "x-api-key": credentials.api_key,
        "x-client-code": credentials.client_id,
        "x-feed-token": session.feed_token,
    }
