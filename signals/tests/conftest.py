from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from signals import services
from signals.models import Signal
from signals.tests.helpers import signal_data


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Every API test signs in; the real hasher's deliberate slowness buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
