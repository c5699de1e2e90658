"""Fixtures of the signals tests: the instrument master's option contracts, signals made
through the services on them, a history of closed ones (for performance), and the time now."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from marketdata.models import Instrument
from signals import services
from signals.models import Signal
from signals.tests.helpers import TEST_OPTIONS, option_contract_create, sell_data, signal_data

# The history's day: the signals it closes were published at 09:30 IST on it.
HISTORY_DAY = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)


@pytest.fixture
def staff_user(staff_user: User) -> User:
    """The desk: staff holding the permissions the API and the admin ask for to publish and
    change signals (the root conftest's staff user holds none); the admin's option search
    reads the instrument master, so viewing instruments too."""
    staff_user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="signals",
            codename__in=["view_signal", "add_signal", "change_signal"],
        ),
        Permission.objects.get(content_type__app_label="marketdata", codename="view_instrument"),
    )
    return staff_user


@pytest.fixture
def option_master(db) -> dict[str, Instrument]:
    """The instrument master's option contracts that the tests' signals name (live for 30 days)."""
    return {symbol: option_contract_create(symbol) for symbol in TEST_OPTIONS}


@pytest.fixture
def make_signal(staff_user: User, option_master):
    def make(**overrides: Any) -> Signal:
        return services.signal_create(author=staff_user, data=signal_data(**overrides))

    return make


@pytest.fixture
def active_signal(make_signal) -> Signal:
    return make_signal()


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def _closed(
    author: User, data: dict, exit_price: float, held: timedelta, at: datetime = HISTORY_DAY
) -> Signal:
    signal = services.signal_create(author=author, data=data)
    services.signal_close(signal=signal, exit_price=exit_price)
    Signal.objects.filter(pk=signal.pk).update(created_at=at, closed_at=at + held)
    return signal


@pytest.fixture
def history(staff_user: User, option_master) -> tuple[User, User]:
    """Signals of two authors closed on HISTORY_DAY (and one 30 days before), one cancelled and
    one still active; the authors (the desk, an analyst)."""
    other = User.objects.create_user("analyst@example.com", "x", name="Analyst", is_staff=True)
    _closed(staff_user, signal_data(), 150.0, timedelta(hours=1))  # +30
    _closed(staff_user, signal_data(), 100.0, timedelta(hours=3))  # -20
    _closed(other, sell_data(), 90.0, timedelta(minutes=30))  # SELL: +30
    _closed(other, sell_data(), 95.0, timedelta(hours=1), at=HISTORY_DAY - timedelta(days=30))
    services.signal_cancel(signal=services.signal_create(author=other, data=sell_data()))
    services.signal_create(author=staff_user, data=signal_data())  # still active
    return staff_user, other
