"""Fixtures of the signals tests: the instrument master's option contracts, signals made
through the services on them, a history of closed ones (for performance), and the time now."""

import uuid
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from marketdata.models import Instrument
from signals import live_pnl, services
from signals.models import Signal
from signals.tests.helpers import TEST_OPTIONS, history_make, option_contract_create, signal_data


@pytest.fixture(autouse=True)
def _live_pnl_follows_nothing(monkeypatch) -> None:
    """The live P&L follows the signals the feed last handed it, process-wide: each test
    starts with none, and leaves none behind."""
    monkeypatch.setattr(live_pnl, "PRICE_EVENTS", live_pnl.PriceEvents())


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
def tag() -> str:
    """Marks this test's live events: other test processes may share the Redis server."""
    return uuid.uuid4().hex


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def history(staff_user: User, option_master) -> tuple[User, User]:
    """Signals of two authors closed on HISTORY_DAY (and one 30 days before), one cancelled and
    one still active; the authors (the desk, an analyst)."""
    return staff_user, history_make(desk=staff_user)
