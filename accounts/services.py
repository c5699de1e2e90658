"""Account writes: registration, login, token refresh and logout (a refresh token is used once),
and the rules every token must pass: its user active, not revoked since, within its session.

Every token carries `token_version` (the user's when it was issued: raising it revokes them
all) and `auth_time` (when its session's login happened: a session ends SESSION_MAX_DAYS
later, whatever refreshes follow). docs/security.md.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import F
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from accounts.events import tokens_revoked_announce
from accounts.models import RevokedToken, User, normalize_email
from trading_signals.errors import ApplicationError, field_error

# Failures raise simplejwt's AuthenticationFailed (InvalidToken's parent), a DRF one with a
# code: DRF answers it with a 401, and the /ws consumer catches it.

DUPLICATE_EMAIL = "A user with this email already exists."
BAD_CREDENTIALS = "Invalid email or password."
BLANK_PASSWORD = "The password cannot be blank or only spaces."  # noqa: S105 - a message
INACTIVE = "User is inactive or no longer exists."
REVOKED_SESSION = "Token has been revoked; log in again."
SESSION_OVER = "The session has ended; log in again."

TOKEN_VERSION_CLAIM = "token_version"  # noqa: S105 - a claim's name
AUTH_TIME_CLAIM = "auth_time"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def user_create(*, email: str, name: str, password: str) -> User:
    """Register a user. The password is checked and hashed before the email is looked up, so
    an address already registered costs the same time as a new one."""
    email = normalize_email(email)
    user = User(email=email, name=name.strip())
    if not password.strip():
        raise field_error("password", BLANK_PASSWORD)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ApplicationError(
            "Password is too weak.", errors={"password": error.messages}
        ) from None
    user.set_password(password)
    if User.objects.filter(email=email).exists():
        raise field_error("email", DUPLICATE_EMAIL)
    try:
        user.save()
    except IntegrityError:
        # Another request registered the same email between the check and the insert.
        raise field_error("email", DUPLICATE_EMAIL) from None
    return user


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _session_end(auth_time: int) -> int:
    return auth_time + int(timedelta(days=settings.SESSION_MAX_DAYS).total_seconds())


def _token_pair_for(user: User, *, auth_time: int) -> TokenPair:
    """A new pair for `user` in the session that logged in at `auth_time`; neither token
    outlives the session."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    refresh[AUTH_TIME_CLAIM] = auth_time
    session_end = _session_end(auth_time)
    refresh["exp"] = min(refresh["exp"], session_end)
    access = refresh.access_token  # copies the claims above
    access["exp"] = min(access["exp"], session_end)
    return TokenPair(
        access_token=str(access),
        refresh_token=str(refresh),
        token_type="bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=max(access["exp"] - _epoch(refresh.current_time), 0),
    )


def auth_login(*, email: str, password: str) -> TokenPair:
    """One message for every failure, so a caller cannot tell which part was wrong.

    Django's backend hashes the password once whether the user exists or not (and checks an
    inactive user's password too), so the time does not tell either.
    """
    user = authenticate(username=normalize_email(email), password=password)
    if not isinstance(user, User) or not user.is_active:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    return _token_pair_for(user, auth_time=_epoch(datetime.now(tz=UTC)))


# --- The rules every token passes (REST, refresh and /ws) ---


def _auth_time(token: Token) -> int:
    """When the token's session logged in; tokens issued before sessions were tracked count
    from their own issue time."""
    value = token.get(AUTH_TIME_CLAIM, token.get("iat"))
    if not isinstance(value, int | float):
        raise InvalidToken("Token has no login time.")
    return int(value)


def token_user(*, token: Token) -> User:
    """The user a verified token (access or refresh) stands for, if it may still be used: the
    user exists and is active, no revocation came after the token, its session is not over."""
    user_id = token.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    try:
        user = User.objects.filter(pk=user_id).first() if isinstance(user_id, str | int) else None
    except (ValueError, ValidationError):  # not a key of this store
        user = None
    if user is None or not user.is_active:
        raise AuthenticationFailed(INACTIVE, code="user_inactive")
    if token.get(TOKEN_VERSION_CLAIM, 0) != user.token_version:
        raise AuthenticationFailed(REVOKED_SESSION, code="token_revoked")
    if _session_end(_auth_time(token)) <= _epoch(datetime.now(tz=UTC)):
        raise AuthenticationFailed(SESSION_OVER, code="session_expired")
    return user


def access_token_user(*, raw_token: str) -> tuple[User, datetime]:
    """The user an encoded access token stands for, and when the token expires: the REST rules
    (signature, expiry, type, then `token_user`), for the /ws handshake.

    Raises simplejwt's InvalidToken or AuthenticationFailed (its parent), as simplejwt does.
    """
    try:
        # Checks the signature, the expiry and the token type. (simplejwt annotates its
        # argument as a Token; it takes the encoded string.)
        token = AccessToken(cast(Token, raw_token))
    except TokenError as error:
        raise InvalidToken(str(error)) from None
    return token_user(token=token), datetime.fromtimestamp(token["exp"], tz=UTC)


def user_tokens_revoke(*, user: User) -> None:
    """Log the user out everywhere: every token issued so far stops working (REST and /ws).
    A password change and a deactivation do the same through User.save."""
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    tokens_revoked_announce(user_id=user.pk)


# --- Refresh and logout: each refresh token is used once ---

REVOKED = "Token is blacklisted"


def _verified_refresh(refresh_token: str) -> RefreshToken:
    try:
        # Checks signature, expiry and token type. (simplejwt annotates its argument as a
        # Token; it takes the encoded string.)
        refresh = RefreshToken(cast(Token, refresh_token))
    except TokenError as error:
        raise InvalidToken(str(error)) from None
    if RevokedToken.objects.filter(jti=refresh["jti"]).exists():
        raise InvalidToken(REVOKED)
    return refresh


def _blacklist_once(refresh: RefreshToken) -> None:
    expires_at = datetime.fromtimestamp(refresh["exp"], tz=UTC)
    try:
        RevokedToken.objects.create(jti=refresh["jti"], expires_at=expires_at)
    except IntegrityError:
        # A concurrent request used the same refresh token first.
        raise InvalidToken(REVOKED) from None


def revoked_tokens_purge(*, now: datetime) -> int:
    """Revoked tokens past their own expiry can no longer be replayed; drop them."""
    deleted, _ = RevokedToken.objects.filter(expires_at__lt=now).delete()
    return deleted


def auth_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the used refresh token is blacklisted and a new pair is issued, in the same
    session (same login time, so the same end)."""
    refresh = _verified_refresh(refresh_token)
    user = token_user(token=refresh)
    _blacklist_once(refresh)
    return _token_pair_for(user, auth_time=_auth_time(refresh))


def auth_logout(*, refresh_token: str) -> None:
    _blacklist_once(_verified_refresh(refresh_token))
