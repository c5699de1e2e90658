"""The API keeps the promises of its own `/openapi.json` (issue 13): schemathesis draws requests
for every operation and checks each answer against the schema, in process, as a signed-in
member of the desk (staff allowed to publish and change signals).

Derandomized with few examples per operation, so CI never flakes.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import auth_login
from conftest import PASSWORD

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def desk_token(staff_user) -> str:
    staff_user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="signals", codename__in=["add_signal", "change_signal"]
        )
    )
    return auth_login(email=staff_user.email, password=PASSWORD).access_token


@pytest.fixture
def connection_kept() -> Iterator[None]:
    """The real WSGI handler closes the database connection after each request, and with it
    the test's transaction; Django's test client stops it the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# Served by the app itself, as clients read it (serving it touches no database).
schema = schemathesis.openapi.from_wsgi("/openapi.json", get_wsgi_application())


@schema.parametrize()
@hypothesis_settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_one_the_schema_documents(db, connection_kept, case, desk_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {desk_token}"}, checks=CHECKS)
