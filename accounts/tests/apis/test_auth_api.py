"""The /api/v1/auth API: register, login, refresh, logout and me."""

from datetime import timedelta
from functools import partial

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def register(client, **overrides):
    body = {"email": "new@example.com", "name": "New Trader", "password": PASSWORD, **overrides}
    return client.post(REGISTER, body, format="json")


def login(client, email="trader@example.com", password=PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


def test_register_returns_the_user_without_any_password(api_client):
    response = register(api_client)

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["name"] == "New Trader"
    assert body["is_active"] is True and body["is_verified"] is False
    assert not {"password", "hashed_password"} & body.keys()
    assert User.objects.get(email="new@example.com").check_password(PASSWORD)


def test_register_stores_the_email_lower_cased(api_client):
    register(api_client, email="Mixed.Case@Example.COM")

    assert User.objects.filter(email="mixed.case@example.com").exists()


def test_duplicate_email_in_another_letter_case_is_a_400_naming_email(api_client, user):
    response = register(api_client, email="TRADER@example.com")

    assert response.status_code == 400
    assert "email" in response.json()["errors"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("missing", ["email", "name", "password"])
def test_register_without_a_field_is_a_400_naming_it(api_client, missing):
    body = {"email": "new@example.com", "name": "New", "password": PASSWORD}
    del body[missing]

    response = api_client.post(REGISTER, body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [missing]


def test_malformed_email_is_rejected(api_client):
    response = register(api_client, email="not-an-email")

    assert response.status_code == 400
    assert "email" in response.json()["errors"]


@pytest.mark.parametrize("weak", ["short", "12345678901", "password123"])
def test_weak_password_is_rejected_with_the_validators_reasons(api_client, weak):
    response = register(api_client, password=weak)

    assert response.status_code == 400
    assert response.json()["errors"]["password"]
    assert not User.objects.exists()


def test_login_returns_a_bearer_pair_with_expiry(api_client, user):
    response = login(api_client)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert body["access_token"] and body["refresh_token"]


def test_login_is_case_insensitive_on_email(api_client, user):
    assert login(api_client, email="Trader@Example.com").status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("trader@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)],
)
def test_wrong_credentials_get_one_message_that_reveals_nothing(api_client, user, email, password):
    response = login(api_client, email=email, password=password)

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid email or password."


def test_inactive_user_cannot_log_in(api_client, user):
    user.is_active = False
    user.save()

    response = login(api_client)

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid email or password."


def test_me_returns_the_current_user(api_client, user):
    access = login(api_client).json()["access_token"]

    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 200
    assert response.json()["email"] == "trader@example.com"


@pytest.mark.parametrize("header", [None, "Bearer not.a.jwt", "Bearer ", "Token abc"])
def test_me_without_a_valid_token_is_401(api_client, user, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}

    assert api_client.get(ME, **kwargs).status_code == 401


def test_expired_access_token_is_401(api_client, user):
    access = login(api_client).json()["access_token"]

    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 401


def test_refresh_token_is_not_accepted_as_an_access_token(api_client, user):
    refresh = login(api_client).json()["refresh_token"]

    assert api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {refresh}").status_code == 401


def test_refresh_rotates_and_the_used_token_cannot_be_reused(api_client, user):
    first = login(api_client).json()

    rotated = api_client.post(REFRESH, {"refresh_token": first["refresh_token"]}, format="json")
    replayed = api_client.post(REFRESH, {"refresh_token": first["refresh_token"]}, format="json")

    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    assert replayed.status_code == 401
    new_access = rotated.json()["access_token"]
    assert api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {new_access}").status_code == 200


def test_refresh_for_a_user_deactivated_since_login_is_401(api_client, user):
    refresh = login(api_client).json()["refresh_token"]
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client.post(REFRESH, {"refresh_token": refresh}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("token", ["garbled", ""])
def test_refresh_with_a_bad_token_is_rejected(api_client, token):
    response = api_client.post(REFRESH, {"refresh_token": token}, format="json")

    assert response.status_code in {400, 401}
    assert response.status_code == (400 if token == "" else 401)


def test_refresh_with_an_access_token_is_401(api_client, user):
    access = login(api_client).json()["access_token"]

    assert api_client.post(REFRESH, {"refresh_token": access}, format="json").status_code == 401


def test_expired_refresh_token_is_401(api_client, user):
    refresh = login(api_client).json()["refresh_token"]

    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = api_client.post(REFRESH, {"refresh_token": refresh}, format="json")

    assert response.status_code == 401


def test_logout_blacklists_the_refresh_token(api_client, user):
    refresh = login(api_client).json()["refresh_token"]

    logged_out = api_client.post(LOGOUT, {"refresh_token": refresh}, format="json")
    refreshed = api_client.post(REFRESH, {"refresh_token": refresh}, format="json")
    again = api_client.post(LOGOUT, {"refresh_token": refresh}, format="json")

    assert logged_out.status_code == 204
    assert refreshed.status_code == 401
    assert again.status_code == 401


# --- Issue 13: blank passwords, bounded fields, no enumeration by time ---------------------


@pytest.mark.parametrize("blank", [" " * 10, "\t \n " * 4])
def test_a_password_of_only_spaces_is_a_400_naming_password(api_client, blank):
    response = register(api_client, password=blank)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]
    assert not User.objects.exists()


def test_an_overlong_refresh_token_is_a_400_naming_it(api_client):
    response = api_client.post(REFRESH, {"refresh_token": "x" * 5000}, format="json")

    assert response.status_code == 400
    assert "refresh_token" in response.json()["errors"]


@pytest.fixture
def counting_hasher(settings):
    from accounts.tests.hashers import CountingHasher

    settings.PASSWORD_HASHERS = ["accounts.tests.hashers.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


def hashes_during(hasher, call) -> tuple[int, object]:
    hasher.calls = 0
    response = call()
    return hasher.calls, response


def test_register_does_the_same_work_whether_the_email_exists_or_not(api_client, counting_hasher):
    """What made an existing address answer in 10 ms against 310 ms: it skipped the hash."""
    User.objects.create_user("taken@example.com", PASSWORD, name="Taken")

    new = hashes_during(counting_hasher, lambda: register(api_client, email="free@example.com"))
    taken = hashes_during(counting_hasher, lambda: register(api_client, email="TAKEN@example.com"))

    assert (new[0], new[1].status_code) == (1, 201)
    assert (taken[0], taken[1].status_code) == (1, 400)
    assert list(taken[1].json()["errors"]) == ["email"]


def test_login_does_the_same_work_and_says_the_same_whatever_is_wrong(
    api_client, user, counting_hasher
):
    inactive = User.objects.create_user("gone@example.com", PASSWORD, name="Gone")
    inactive.is_active = False
    inactive.save()
    attempts = {
        "wrong password": ("trader@example.com", "wrong-password"),
        "unknown email": ("nobody@example.com", PASSWORD),
        "inactive user": ("gone@example.com", PASSWORD),
    }

    for case, (email, password) in attempts.items():
        work, response = hashes_during(
            counting_hasher, partial(login, api_client, email=email, password=password)
        )
        assert (work, response.status_code) == (1, 401), case
        assert response.json() == {"detail": "Invalid email or password.", "errors": {}}, case
    work, response = hashes_during(counting_hasher, lambda: login(api_client))
    assert (work, response.status_code) == (1, 200)
