"""Fixtures of the signals tests: signals made through the services, a history of closed ones
(for performance), and the time now."""

from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from signals import services
from signals.models import Signal
from signals.tests.helpers import history_make, signal_data


@pytest.fixture
def staff_user(staff_user: User) -> User:
    """The desk: staff holding the permissions the API and the admin ask for to publish and
    change signals (the root conftest's staff user holds none)."""
    staff_user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="signals",
            codename__in=["view_signal", "add_signal", "change_signal"],
        )
    )
    return staff_user


@pytest.fixture
def make_signal(staff_user: User):
    def make(**overrides: Any) -> Signal:
        return services.signal_create(author=staff_user, data=signal_data(**overrides))

    return make


@pytest.fixture
def active_signal(make_signal) -> Signal:
    return make_signal()


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def history(staff_user: User) -> tuple[User, User]:
    """Signals of two authors closed on HISTORY_DAY (and one 30 days before), one cancelled and
    one still active; the authors (the desk, an analyst)."""
    return staff_user, history_make(desk=staff_user)
