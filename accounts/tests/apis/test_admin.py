"""The accounts admin, as staff use it."""

import pytest

from accounts.models import User
from accounts.services import auth_login
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_admin_lists_users_for_staff(admin_client, user):
    response = admin_client.get("/admin/accounts/user/?q=trader")

    assert response.status_code == 200
    assert user.email.encode() in response.content


# --- Revoking a user's tokens from the admin (issue 13, section 5) -------------------------

ME = "/api/v1/auth/me"


def signed_in(client, user):
    """A check of an access token of `user`, issued now: the status /me answers with it."""
    pair = auth_login(email=user.email, password=PASSWORD)
    return lambda: client.get(ME, HTTP_AUTHORIZATION=f"Bearer {pair.access_token}").status_code


def test_log_out_everywhere_revokes_the_selected_users_tokens(admin_client, api_client, user):
    session = signed_in(api_client, user)

    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "log_out_everywhere", "_selected_action": [user.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert b"Logged out 1 user(s) everywhere" in response.content
    assert session() == 401


def test_a_password_set_in_the_admin_revokes_the_users_tokens(admin_client, api_client, user):
    session = signed_in(api_client, user)

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "Brand-New-Pass-31", "password2": "Brand-New-Pass-31"},
    )

    assert response.status_code == 302
    assert session() == 401


def test_deactivating_in_the_admin_revokes_the_users_tokens(admin_client, api_client, user):
    session = signed_in(api_client, user)
    form = {
        "email": user.email,
        "name": user.name,
        "is_verified": "on",
        "last_login_0": "",
        "last_login_1": "",
    }  # is_active left out: unticked

    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", form)

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    User.objects.filter(pk=user.pk).update(is_active=True)  # back, but its old tokens are not
    assert session() == 401
