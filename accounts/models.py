"""The user (email login) and the refresh tokens already used or revoked."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import acheck_password, check_password, make_password
from django.contrib.auth.models import PermissionsMixin
from django.db import models

from accounts.events import tokens_revoked_announce


def normalize_email(email: str) -> str:
    """Emails are unique regardless of letter case, so they are stored lower-cased."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.update(is_staff=True, is_superuser=True, is_verified=True)
        return self.create_user(email, password, **fields)

    # The stubs allow None (Django's base method would look it up); Django's backends never
    # pass None, and an email is needed to normalise.
    def get_by_natural_key(self, email: str) -> "User":  # type: ignore[override]
        return self.get(email=normalize_email(email))


class User(AbstractBaseUser, PermissionsMixin):
    """The seed's users collection; Django's password hash lives in `hashed_password`."""

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=150)
    password = models.CharField(max_length=128, db_column="hashed_password")
    is_active = models.BooleanField(default=True)
    is_verified = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Every token carries the value it was issued under; raising it revokes them all (a
    # password change, a deactivation, an admin's "log out everywhere"). docs/security.md.
    token_version = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        db_table = "users"
        constraints = [models.UniqueConstraint(fields=["email"], name="email_1")]
        indexes = [
            models.Index(fields=["is_active"], name="is_active_1"),
            models.Index(fields=["created_at"], name="created_at_1"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    # --- Token revocation: a new password or a deactivation ends every session ---

    _revoke_tokens = False

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        if not self._state.adding:
            self._revoke_tokens = True

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        if not self._state.adding:
            self._revoke_tokens = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        revoking = not self._state.adding and (self._revoke_tokens or not self.is_active)
        if revoking:
            self.token_version += 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "token_version"}
        self._revoke_tokens = False
        super().save(*args, **kwargs)
        if revoking:
            tokens_revoked_announce(user_id=self.pk)

    # Django upgrades a hash when it checks a password with an older hasher; that is the same
    # password, so it goes around set_password and keeps the user's sessions.

    def _rehash(self, raw_password: str) -> None:
        self.password = make_password(raw_password)
        self._password = None

    def check_password(self, raw_password: str) -> bool:
        def setter(raw: str) -> None:
            self._rehash(raw)
            self.save(update_fields=["password"])

        return check_password(raw_password, self.password, setter)

    async def acheck_password(self, raw_password: str) -> bool:
        async def setter(raw: str) -> None:
            self._rehash(raw)
            await self.asave(update_fields=["password"])

        return await acheck_password(raw_password, self.password, setter)


class RevokedToken(models.Model):
    """Refresh tokens used by a rotation or a logout, by JWT id.

    Replaces simplejwt's blacklist app, whose models hard-code integer primary keys that
    MongoDB cannot generate. The unique `jti` makes each refresh token usable once on
    every backend, even under concurrent requests.
    """

    jti = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "revoked_tokens"
        constraints = [models.UniqueConstraint(fields=["jti"], name="jti_1")]
        indexes = [models.Index(fields=["expires_at"], name="expires_at_1")]

    def __str__(self) -> str:
        return self.jti
