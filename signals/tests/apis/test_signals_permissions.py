"""Who may read and write /api/v1/signals/: anonymous 401s, users read, staff with the
signals permissions write."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import auth_login
from conftest import PASSWORD
from signals.models import Signal, Status
from signals.tests.helpers import signal_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]

BASE = "/api/v1/signals/"


def detail(signal: Signal, suffix: str = "") -> str:
    return f"{BASE}{signal.pk}{suffix}"


WRITES = [
    ("post", lambda s: BASE, signal_data()),
    ("patch", lambda s: detail(s), {"notes": "x"}),
    ("post", lambda s: detail(s, "/cancel"), {}),
    ("post", lambda s: detail(s, "/close"), {"exit_price": 140.0}),
]
READS = [lambda s: BASE, lambda s: detail(s), lambda s: f"{BASE}performance"]


@pytest.mark.parametrize("url", READS)
def test_anonymous_reads_get_401(api_client, active_signal, url):
    assert api_client.get(url(active_signal)).status_code == 401


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_anonymous_writes_get_401(api_client, active_signal, method, url, body):
    response = getattr(api_client, method)(url(active_signal), body, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("url", READS)
def test_any_signed_in_user_reads(user_client, active_signal, url):
    assert user_client.get(url(active_signal)).status_code == 200


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_users_who_are_not_staff_get_403_on_every_write(
    user_client, active_signal, method, url, body
):
    response = getattr(user_client, method)(url(active_signal), body, format="json")

    assert response.status_code == 403
    active_signal.refresh_from_db()
    assert active_signal.status == Status.ACTIVE and active_signal.notes == ""
    assert Signal.objects.count() == 1


# Staff need Django's model permissions, as in the admin (issue 13, section 6).


def client_of(email: str, *, staff: bool = True, superuser: bool = False, perms=()):
    user = User.objects.create_user(
        email, PASSWORD, name="Staff", is_staff=staff, is_superuser=superuser
    )
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="signals", codename__in=perms)
    )
    client = APIClient()
    access = auth_login(email=email, password=PASSWORD).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_staff_without_the_signals_permissions_get_403_on_every_write(
    active_signal, method, url, body
):
    client = client_of("intern@example.com", perms=["view_signal"])

    response = getattr(client, method)(url(active_signal), body, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only staff with the permission to publish or change signals can do this.",
        "errors": {},
    }
    active_signal.refresh_from_db()
    assert active_signal.status == Status.ACTIVE and active_signal.notes == ""
    assert Signal.objects.count() == 1
    assert client.get(url(active_signal) if method == "patch" else BASE).status_code == 200


def test_publishing_needs_add_signal_and_changing_needs_change_signal(active_signal):
    publisher = client_of("publisher@example.com", perms=["add_signal"])
    editor = client_of("editor@example.com", perms=["change_signal"])

    assert publisher.post(BASE, signal_data(), format="json").status_code == 201
    assert publisher.post(detail(active_signal, "/cancel")).status_code == 403
    assert editor.post(BASE, signal_data(), format="json").status_code == 403
    assert editor.patch(detail(active_signal), {"notes": "x"}, format="json").status_code == 200
    assert editor.post(detail(active_signal, "/cancel")).status_code == 200


def test_superusers_hold_every_permission(active_signal):
    root = client_of("root@example.com", superuser=True)

    assert root.post(BASE, signal_data(), format="json").status_code == 201
    assert root.post(detail(active_signal, "/cancel")).status_code == 200


def test_the_permissions_without_staff_status_are_not_enough(active_signal):
    outsider = client_of("outsider@example.com", staff=False, perms=["add_signal"])

    assert outsider.post(BASE, signal_data(), format="json").status_code == 403


def test_put_and_delete_are_not_offered(staff_client, active_signal):
    assert staff_client.put(detail(active_signal), signal_data(), format="json").status_code == 405
    assert staff_client.delete(detail(active_signal)).status_code == 405
