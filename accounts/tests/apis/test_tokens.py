"""Tokens that die (issue 13, section 5) and the token rules that held (kept by a test each).

Every rule is checked on REST (`/api/v1/auth/me`) and through `access_token_user`, the one
function the `/ws` handshake calls.
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services
from accounts.models import User
from conftest import PASSWORD
from testing.http import JsonServer
from testing.race import run_together

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def pair(user: User) -> services.TokenPair:
    return services.auth_login(email=user.email, password=PASSWORD)


def me(client, access: str) -> int:
    return client.get(ME, HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def refreshed(client, refresh: str) -> int:
    return client.post(REFRESH, {"refresh_token": refresh}, format="json").status_code


def ws_accepts(access: str) -> bool:
    """What the /ws handshake decides (marketdata.live.consumer calls this function)."""
    try:
        services.access_token_user(raw_token=access)
    except AuthenticationFailed:  # what the consumer catches; InvalidToken is one
        return False
    return True


def assert_dead(client, tokens: services.TokenPair) -> None:
    assert me(client, tokens.access_token) == 401
    assert not ws_accepts(tokens.access_token)
    assert refreshed(client, tokens.refresh_token) == 401


def assert_alive(client, tokens: services.TokenPair) -> None:
    assert me(client, tokens.access_token) == 200
    assert ws_accepts(tokens.access_token)


# --- Forged tokens are refused -------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    """The payload of a real, valid token: a forgery differs only in how it is signed."""
    return jwt.decode(token, options={"verify_signature": False})


def signed(claims: dict, alg: str, key: str | None = None, **headers: str) -> str:
    """A JWT made by hand, so that any header and any key (even none) can be tried."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT", **headers}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    if key is None:
        return f"{signing_input}."
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


FORGERIES = {
    "alg-none": lambda claims, _: signed(claims, "none"),
    "alg-None": lambda claims, _: signed(claims, "None"),
    "alg-NONE": lambda claims, _: signed(claims, "NONE"),
    "hs512-right-key": lambda claims, key: signed(claims, "HS512", key),
    "hs256-wrong-key": lambda claims, _: signed(claims, "HS256", "guessed-key"),
    "kid-to-empty-key": lambda claims, _: signed(claims, "HS256", "", kid="../../../dev/null"),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_tokens_are_refused(api_client, user, forge):
    claims = claims_of(pair(user).access_token)
    forged = forge(claims, settings.SIMPLE_JWT["SIGNING_KEY"])

    assert me(api_client, forged) == 401
    assert not ws_accepts(forged)


def test_a_jku_or_kid_header_is_never_followed(api_client, user):
    """A token signed with the attacker's key, naming the attacker's key set (jku) and key
    (kid): refused, and the key set is never fetched. A real token with those headers is
    judged by its real signature alone."""
    fetched = []
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))

    def answer(request):
        fetched.append(request.path)
        return 200, {"keys": [{**jwk, "kid": "attacker"}]}

    claims = claims_of(pair(user).access_token)
    with JsonServer(answer) as keys:
        headers = {"jku": f"{keys.url}/jwks.json", "kid": "attacker"}
        for forged in (
            jwt.encode(claims, attacker, algorithm="RS256", headers=headers),
            signed(claims, "HS256", "attacker-secret", **headers),
        ):
            assert me(api_client, forged) == 401
            assert not ws_accepts(forged)
        genuine = signed(claims, "HS256", settings.SIMPLE_JWT["SIGNING_KEY"], **headers)
        assert me(api_client, genuine) == 200

    assert fetched == []


def test_a_refresh_token_is_not_an_access_token_on_ws_either(user):
    assert not ws_accepts(pair(user).refresh_token)


def test_ws_gets_the_user_and_the_expiry(user):
    tokens = pair(user)

    found, expires_at = services.access_token_user(raw_token=tokens.access_token)

    assert found == user
    assert expires_at == datetime.fromtimestamp(claims_of(tokens.access_token)["exp"], tz=UTC)


def test_tokens_issued_without_the_session_claims_still_work(api_client, user):
    """Tokens issued before this change (and the tests' own `AccessToken.for_user`)."""
    access = str(AccessToken.for_user(user))

    assert me(api_client, access) == 200 and ws_accepts(access)


# --- Inactive users, replays, concurrent refreshes -----------------------------------------


def test_an_inactive_users_tokens_are_refused_everywhere(api_client, user):
    tokens = pair(user)
    User.objects.filter(pk=user.pk).update(is_active=False)  # not even through save()

    assert_dead(api_client, tokens)


def test_a_replayed_refresh_token_is_refused(api_client, user):
    tokens = pair(user)

    assert refreshed(api_client, tokens.refresh_token) == 200
    assert refreshed(api_client, tokens.refresh_token) == 401


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_refreshes_of_one_token_give_exactly_one_success(api_client, user):
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite's in-memory test database uses a shared cache, where a second writer fails "
            "at once instead of waiting as it does on the file database (WAL, busy timeout)."
        )
    refresh = pair(user).refresh_token

    codes = run_together(*[lambda: refreshed(api_client.__class__(), refresh)] * 10)

    assert sorted(codes) == [200] + [401] * 9


# --- Revocation: a password change, a deactivation, "log out everywhere" --------------------


def test_a_password_change_revokes_every_token(api_client, user):
    before = [pair(user), pair(user)]  # two devices

    user.set_password("Another-Pass-77")
    user.save()

    for tokens in before:
        assert_dead(api_client, tokens)
    after = services.auth_login(email=user.email, password="Another-Pass-77")
    assert_alive(api_client, after)
    assert refreshed(api_client, after.refresh_token) == 200


def test_a_deactivation_revokes_every_token_for_good(api_client, user):
    tokens = pair(user)

    user.is_active = False
    user.save()
    user.is_active = True
    user.save()

    assert_dead(api_client, tokens)
    assert_alive(api_client, pair(user))


def test_log_out_everywhere_revokes_every_token(api_client, user):
    tokens = pair(user)

    services.user_tokens_revoke(user=user)

    assert_dead(api_client, tokens)
    assert_alive(api_client, pair(user))


def test_refreshing_cannot_outlive_a_revocation(api_client, user):
    tokens = pair(user)
    rotated = api_client.post(REFRESH, {"refresh_token": tokens.refresh_token}, format="json")

    services.user_tokens_revoke(user=user)

    assert refreshed(api_client, rotated.json()["refresh_token"]) == 401
    assert me(api_client, rotated.json()["access_token"]) == 401


def test_a_hash_upgrade_at_login_keeps_the_other_sessions(api_client, user, settings):
    """Django rehashes a password checked with an older hasher: the same password, so the
    user's other devices stay signed in."""
    tokens = pair(user)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    pair(user)

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    assert_alive(api_client, tokens)


def test_saving_a_user_otherwise_keeps_their_sessions(api_client, user):
    tokens = pair(user)

    user.name = "Renamed"
    user.save()

    assert_alive(api_client, tokens)


# --- The absolute session lifetime ------------------------------------------------------------


def test_refreshing_cannot_extend_a_session_past_its_maximum(api_client, user, settings):
    settings.SESSION_MAX_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        refresh = api_client.post(
            LOGIN, {"email": user.email, "password": PASSWORD}, format="json"
        ).json()["refresh_token"]

    # A refresh every 6 days (refresh tokens last 7) keeps the session going, up to its end.
    for day in (6, 12, 18, 24, 29):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            response = api_client.post(REFRESH, {"refresh_token": refresh}, format="json")
        assert response.status_code == 200, day
        refresh = response.json()["refresh_token"]

    near_the_end = start + timedelta(days=30) - timedelta(minutes=10)
    with time_machine.travel(near_the_end, tick=False):
        last = api_client.post(REFRESH, {"refresh_token": refresh}, format="json").json()
    # The new tokens end with the session: the access token lasts 10 minutes, not 30.
    assert last["expires_in"] == 600
    assert claims_of(last["refresh_token"])["exp"] == int((start + timedelta(days=30)).timestamp())

    with time_machine.travel(start + timedelta(days=30, seconds=1), tick=False):
        assert refreshed(api_client, last["refresh_token"]) == 401
        assert me(api_client, last["access_token"]) == 401


def test_a_shorter_maximum_ends_sessions_already_running(api_client, user, settings):
    tokens = pair(user)
    settings.SESSION_MAX_DAYS = 1

    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert refreshed(api_client, tokens.refresh_token) == 401
