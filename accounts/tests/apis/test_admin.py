"""The accounts admin, as staff use it."""

import pytest

pytestmark = pytest.mark.django_db


def test_admin_lists_users_for_staff(admin_client, user):
    response = admin_client.get("/admin/accounts/user/?q=trader")

    assert response.status_code == 200
    assert user.email.encode() in response.content
