"""Account writes: registration, login, token refresh and logout (a refresh token is used once)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken, Token

from accounts.models import RevokedToken, User, normalize_email
from trading_signals.errors import ApplicationError, field_error

DUPLICATE_EMAIL = "A user with this email already exists."
BAD_CREDENTIALS = "Invalid email or password."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def user_create(*, email: str, name: str, password: str) -> User:
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise field_error("email", DUPLICATE_EMAIL)
    user = User(email=email, name=name.strip())
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ApplicationError(
            "Password is too weak.", errors={"password": error.messages}
        ) from None
    user.set_password(password)
    try:
        user.save()
    except IntegrityError:
        # Another request registered the same email between the check and the insert.
        raise field_error("email", DUPLICATE_EMAIL) from None
    return user


def _token_pair_for(user: User) -> TokenPair:
    refresh = RefreshToken.for_user(user)
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    return TokenPair(
        access_token=str(refresh.access_token),
        refresh_token=str(refresh),
        token_type="bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=int(lifetime.total_seconds()),
    )


def auth_login(*, email: str, password: str) -> TokenPair:
    """One message for every failure, so a caller cannot tell which part was wrong."""
    user = authenticate(username=normalize_email(email), password=password)
    if user is None or not user.is_active:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    return _token_pair_for(user)


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
    """Rotate: the used refresh token is blacklisted and a new pair is issued."""
    refresh = _verified_refresh(refresh_token)
    user_id = refresh.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise AuthenticationFailed("User is inactive or no longer exists.")
    _blacklist_once(refresh)
    return _token_pair_for(user)


def auth_logout(*, refresh_token: str) -> None:
    _blacklist_once(_verified_refresh(refresh_token))
