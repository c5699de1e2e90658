"""Limits on signing in (issue 13, section 1): per client address behind NUM_PROXIES trusted
proxies, per account from any address, the same on /admin/login/, 429 with Retry-After."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from conftest import PASSWORD
from testing.race import run_together
from trading_signals.api.throttling import attempt_count, client_address, rate_parse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mid_window():
    """Counts are per fixed window (a minute, an hour): keep every test inside one."""
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC), tick=False):
        yield


LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def limits(settings):
    """Three attempts a minute per address, five an hour per account."""
    settings.AUTH_THROTTLE_RATE = "3/min"
    settings.AUTH_ACCOUNT_THROTTLE_RATE = "5/hour"
    return settings


WRONG = "wrong-password"


def login(client, *, email="trader@example.com", password=WRONG, address="10.0.0.1", **extra):
    body = {"email": email, "password": password}
    return client.post(LOGIN, body, format="json", REMOTE_ADDR=address, **extra)


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["errors"] == {} and "throttled" in body["detail"].lower()


def test_login_is_limited_per_address_with_retry_after_in_the_error_shape(api_client, user, limits):
    codes = [login(api_client).status_code for _ in range(3)]
    throttled = login(api_client, password=PASSWORD)
    elsewhere = login(api_client, password=PASSWORD, address="10.9.9.9")

    assert codes == [401, 401, 401]
    assert_throttled(throttled)
    assert throttled["Retry-After"] == "59"  # the rest of the minute
    assert elsewhere.status_code == 200


def test_x_forwarded_for_is_ignored_without_trusted_proxies(api_client, user, limits):
    """The attack: a new X-Forwarded-For on each attempt, or one added once throttled."""
    codes = [login(api_client, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}").status_code for n in range(10)]
    again = login(api_client, password=PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert codes == [401] * 3 + [429] * 7
    assert_throttled(again)


def test_behind_one_proxy_the_address_it_saw_counts_not_what_the_client_wrote(
    api_client, user, limits
):
    limits.NUM_PROXIES = 1
    # The proxy (10.0.0.1) appends the address it saw (5.5.5.5) to what the client sent.
    spoofed = [f"1.2.3.{n}, 5.5.5.5" for n in range(4)]

    codes = [login(api_client, HTTP_X_FORWARDED_FOR=xff).status_code for xff in spoofed]
    other_client = login(api_client, password=PASSWORD, HTTP_X_FORWARDED_FOR="6.6.6.6")

    assert codes == [401, 401, 401, 429]
    assert other_client.status_code == 200


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1, 2.2.2.2", "9.9.9.9"),
        (1, "1.1.1.1, 2.2.2.2", "2.2.2.2"),
        (2, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
        (3, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
        (1, None, "9.9.9.9"),
    ],
)
def test_client_address_counts_only_trusted_proxies(rf, settings, proxies, forwarded, expected):
    settings.NUM_PROXIES = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}

    assert client_address(rf.get("/", REMOTE_ADDR="9.9.9.9", **headers)) == expected


def test_login_is_limited_per_account_from_any_address(api_client, user, limits):
    limits.AUTH_THROTTLE_RATE = "100/min"
    # The account's email in any spelling counts as one.
    spellings = ["trader@example.com", "TRADER@example.com", " Trader@Example.com "]
    codes = [
        login(api_client, email=spellings[n % 3], address=f"10.0.1.{n}").status_code
        for n in range(5)
    ]
    blocked = login(api_client, password=PASSWORD, address="10.0.2.1")
    other_account = login(api_client, email="someone@example.com", address="10.0.2.2")

    assert codes == [401] * 5
    assert_throttled(blocked)
    assert other_account.status_code == 401


def test_register_shares_the_per_address_limit(api_client, limits):
    bodies = [
        {"email": f"new{n}@example.com", "name": "New", "password": PASSWORD} for n in range(4)
    ]

    codes = [
        api_client.post(REGISTER, body, format="json", REMOTE_ADDR="10.0.0.7").status_code
        for body in bodies
    ]

    assert codes == [201, 201, 201, 429]


# --- /admin/login/ -----------------------------------------------------------------------


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(
        "boss@example.com", PASSWORD, name="Boss", is_staff=True, is_superuser=True
    )


def admin_login(client: Client, *, password=WRONG, address="10.0.0.1", username=None):
    body = {"username": username or "boss@example.com", "password": password}
    return client.post(ADMIN_LOGIN, body, REMOTE_ADDR=address)


def test_admin_login_is_limited_per_address(staff, limits):
    client = Client()

    codes = [admin_login(client).status_code for _ in range(3)]
    throttled = admin_login(client, password=PASSWORD, username="other@example.com")
    elsewhere = admin_login(Client(), password=PASSWORD, address="10.9.9.9")

    assert codes == [200, 200, 200]  # the form again, with its error
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert elsewhere.status_code == 302  # signed in


def test_admin_login_is_limited_per_account_from_any_address(staff, limits):
    limits.AUTH_THROTTLE_RATE = "100/min"
    client = Client()

    codes = [admin_login(client, address=f"10.0.1.{n}").status_code for n in range(5)]
    blocked = admin_login(client, password=PASSWORD, address="10.0.2.1")

    assert codes == [200] * 5
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0


def test_admin_and_api_logins_share_the_account_count(api_client, staff, limits):
    limits.AUTH_THROTTLE_RATE = "100/min"
    for n in range(3):
        login(api_client, email="boss@example.com", address=f"10.0.1.{n}")
    for n in range(2):
        admin_login(Client(), address=f"10.0.3.{n}")

    assert login(api_client, email="boss@example.com", password=PASSWORD).status_code == 429


def test_showing_the_admin_login_form_is_not_counted(staff, limits):
    client = Client()

    assert [client.get(ADMIN_LOGIN).status_code for _ in range(5)] == [200] * 5
    assert admin_login(client, password=PASSWORD).status_code == 302


def test_admin_login_still_checks_csrf(staff):
    client = Client(enforce_csrf_checks=True)

    assert admin_login(client, password=PASSWORD).status_code == 403


# --- The counter ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "parsed"), [("20/min", (20, 60)), ("10/hour", (10, 3600)), ("5/s", (5, 1))]
)
def test_rates_use_drf_syntax(rate, parsed):
    assert rate_parse(rate) == parsed


def test_concurrent_attempts_never_pass_more_than_the_limit():
    """DRF's own throttles read and write back a list, so concurrent requests all pass; this
    counter increments atomically (in Redis when REDIS_URL is set)."""

    def attempt():
        return attempt_count(scope="test-race", key="10.0.0.1", rate="5/hour")

    results = run_together(*[attempt] * 20)

    assert sum(result is None for result in results) == 5
