"""How the REST API reads a bearer token: simplejwt's checks (signature, algorithm, expiry,
token type), then the accounts rules (active user, not revoked, session not over)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import Token

from accounts.models import User
from accounts.services import token_user


class BearerAuthentication(JWTAuthentication):
    # simplejwt annotates the result with a TypeVar bound to nothing in the signature.
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        return token_user(token=validated_token)


# drf-spectacular registers each extension as it is defined (an unannotated hook).
class BearerAuthenticationScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """In the OpenAPI schema, the same bearer JWT scheme (`jwtAuth`) as simplejwt's."""

    target_class = "accounts.authentication.BearerAuthentication"
