"""Fixtures every app's tests share: users and API clients signed in as them, a fresh cache,
quick password hashing, and the seeded instruments kept in transactional tests.

Django admin tests use pytest-django's `admin_user` and `admin_client`.
"""

from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import auth_login
from marketdata.market_calendar import seed as seed_indices

PASSWORD = "Correct-Horse-42"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Tests sign users in all the time; the real hasher's deliberate slowness buys nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def _runs_in_transactional_db(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    requested = {"transactional_db", "live_server"} & set(request.fixturenames)
    return bool(requested or (marker and marker.kwargs.get("transaction")))


@pytest.fixture(autouse=True)
def _seeded_rows(request: pytest.FixtureRequest) -> None:
    """A transactional test leaves every table empty (Django flushes instead of rolling back),
    taking the six indices that a data migration seeds with it. Seed them again, so each test
    starts from the database that `migrate` leaves, whatever ran before it."""
    if _runs_in_transactional_db(request):
        request.getfixturevalue("transactional_db")
        seed_indices(apps, None)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db) -> User:
    return User.objects.create_user("trader@example.com", PASSWORD, name="Trader")


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_user("desk@example.com", PASSWORD, name="Desk", is_staff=True)


def _client_for(user: User) -> APIClient:
    client = APIClient()
    pair = auth_login(email=user.email, password=PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    return _client_for(user)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return _client_for(staff_user)


def pytest_configure(config: pytest.Config) -> None:
    """`make run` collects static files before serving; the tests serve none, but WhiteNoise
    warns on every request when the folder it serves from is missing (a fresh clone)."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(exist_ok=True)
