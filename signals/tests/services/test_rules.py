"""The rules of signals/services.py, shared by the API and the admin."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from signals import services
from signals.models import Outcome, Signal, Status
from signals.tests.helpers import sell_data, signal_data
from trading_signals.errors import ApplicationError

pytestmark = pytest.mark.django_db


def errors_of(staff_user, **overrides) -> dict[str, list[str]]:
    with pytest.raises(ApplicationError) as caught:
        services.signal_create(author=staff_user, data=signal_data(**overrides))
    return caught.value.errors


def test_a_valid_buy_is_stored_active_with_its_author_and_underlying(staff_user):
    signal = services.signal_create(
        author=staff_user, data=signal_data(symbol=" nifty25dec24000ce ")
    )

    assert signal.status == Status.ACTIVE
    assert signal.user == staff_user
    assert signal.symbol == "NIFTY25DEC24000CE"
    assert signal.underlying == "NIFTY"
    assert signal.outcome is None and signal.closed_at is None


def test_underlying_is_read_from_the_longest_matching_index_code(staff_user):
    signal = services.signal_create(author=staff_user, data=sell_data())

    assert signal.underlying == "BANKNIFTY"


@pytest.mark.parametrize("field", ["entry_price", "target_price", "stop_loss"])
@pytest.mark.parametrize("price", [0, -5.0, float("nan"), float("inf")])
def test_prices_must_be_positive_finite_numbers(staff_user, field, price):
    assert "Must be a positive number." in errors_of(staff_user, **{field: price})[field]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"stop_loss": 120.0}, "stop_loss"),
        ({"stop_loss": 130.0}, "stop_loss"),
        ({"target_price": 120.0}, "target_price"),
        ({"target_price": 110.0, "stop_loss": 100.0}, "target_price"),
    ],
)
def test_buy_needs_stop_below_entry_below_target(staff_user, overrides, field):
    assert errors_of(staff_user, **overrides).keys() == {field}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"stop_loss": 110.0}, "stop_loss"), ({"target_price": 125.0}, "target_price")],
)
def test_sell_needs_target_below_entry_below_stop(staff_user, overrides, field):
    with pytest.raises(ApplicationError) as caught:
        services.signal_create(author=staff_user, data=sell_data(**overrides))

    assert caught.value.errors.keys() == {field}
    assert "SELL" in caught.value.errors[field][0]


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_quantity_must_be_a_positive_integer(staff_user, quantity):
    assert errors_of(staff_user, quantity=quantity) == {"quantity": ["Must be a positive integer."]}


@pytest.mark.parametrize("confidence", [-1, 101, 50.5])
def test_confidence_must_be_0_to_100(staff_user, confidence):
    assert "confidence" in errors_of(staff_user, confidence=confidence)


@pytest.mark.parametrize("confidence", [0, 100])
def test_confidence_bounds_are_allowed(staff_user, confidence):
    signal = services.signal_create(author=staff_user, data=signal_data(confidence=confidence))

    assert signal.confidence == confidence


@pytest.mark.parametrize(
    ("field", "value"),
    [("option_type", "XX"), ("signal_type", "HOLD"), ("underlying", "DOW")],
)
def test_choices_must_come_from_their_sets(staff_user, field, value):
    assert field in errors_of(staff_user, **{field: value})


def test_symbol_must_start_with_its_underlying(staff_user):
    assert "symbol" in errors_of(staff_user, underlying="BANKNIFTY")


def test_symbol_without_a_known_index_needs_an_underlying(staff_user):
    assert "underlying" in errors_of(staff_user, symbol="RELIANCE25DEC3000CE")


def test_missing_fields_are_each_named(staff_user):
    with pytest.raises(ApplicationError) as caught:
        services.signal_create(author=staff_user, data={"symbol": "NIFTY"})

    assert {"option_type", "entry_price", "quantity", "confidence"} <= caught.value.errors.keys()


def test_expiry_in_the_past_is_refused(staff_user):
    yesterday = timezone.now().date() - timedelta(days=2)

    assert errors_of(staff_user, expiry=yesterday) == {"expiry": ["Must not be in the past."]}


def test_an_edit_is_checked_against_the_merged_values(active_signal):
    with pytest.raises(ApplicationError) as caught:
        services.signal_update(signal=active_signal, data={"stop_loss": 125.0})

    assert caught.value.errors.keys() == {"stop_loss"}
    active_signal.refresh_from_db()
    assert active_signal.stop_loss == 100.0


def test_an_active_signal_can_be_edited(active_signal):
    updated = services.signal_update(
        signal=active_signal, data={"target_price": 160.0, "notes": "x"}
    )

    assert (updated.target_price, updated.notes) == (160.0, "x")
    assert updated.updated_at >= active_signal.updated_at


def test_close_completes_as_manual_with_exit_price(active_signal):
    closed = services.signal_close(signal=active_signal, exit_price=140.0)

    assert closed.status == Status.COMPLETED
    assert closed.outcome == Outcome.MANUAL
    assert closed.exit_price == 140.0 and closed.points == 20.0
    assert closed.closed_at is not None


def test_cancel_moves_active_to_cancelled(active_signal):
    cancelled = services.signal_cancel(signal=active_signal)

    assert cancelled.status == Status.CANCELLED
    assert cancelled.outcome is None and cancelled.closed_at is not None


@pytest.mark.parametrize("exit_price", [None, 0, -3.0])
def test_close_needs_a_positive_exit_price(active_signal, exit_price):
    with pytest.raises(ApplicationError) as caught:
        services.signal_update(
            signal=active_signal, data={"status": "COMPLETED", "exit_price": exit_price}
        )

    assert caught.value.errors.keys() == {"exit_price"}


@pytest.mark.parametrize(
    ("closing", "target"),
    [("cancel", "ACTIVE"), ("cancel", "COMPLETED"), ("close", "ACTIVE"), ("close", "CANCELLED")],
)
def test_a_closed_signal_never_changes_status_again(active_signal, closing, target):
    if closing == "cancel":
        closed = services.signal_cancel(signal=active_signal)
    else:
        closed = services.signal_close(signal=active_signal, exit_price=130.0)

    with pytest.raises(ApplicationError) as caught:
        services.signal_update(signal=closed, data={"status": target, "exit_price": 131.0})

    assert "status" in caught.value.errors
    closed.refresh_from_db()
    assert closed.status != target


def test_unknown_status_is_refused(active_signal):
    with pytest.raises(ApplicationError) as caught:
        services.signal_update(signal=active_signal, data={"status": "PAUSED"})

    assert caught.value.errors.keys() == {"status"}


def test_a_closed_signal_only_takes_note_edits(active_signal):
    closed = services.signal_cancel(signal=active_signal)

    with pytest.raises(ApplicationError) as caught:
        services.signal_update(signal=closed, data={"entry_price": 121.0, "quantity": 50})
    assert caught.value.errors == {
        "entry_price": [services.CLOSED_READ_ONLY],
        "quantity": [services.CLOSED_READ_ONLY],
    }

    noted = services.signal_update(
        signal=closed, data={"notes": "Cancelled: event risk", "quantity": 75}
    )
    assert noted.notes == "Cancelled: event risk"
    assert noted.status == Status.CANCELLED


def test_an_edit_racing_a_close_is_refused_not_reopened(active_signal):
    stale = Signal.objects.get(pk=active_signal.pk)
    services.signal_close(signal=active_signal, exit_price=150.0)

    with pytest.raises(ApplicationError) as caught:
        services.signal_update(signal=stale, data={"target_price": 170.0})

    assert caught.value.errors.keys() == {"status"}
    active_signal.refresh_from_db()
    assert (active_signal.status, active_signal.target_price) == (Status.COMPLETED, 150.0)


@pytest.mark.skipif(
    connection.vendor not in {"sqlite", "postgresql"}, reason="SQL check constraints"
)
@pytest.mark.parametrize(
    "change",
    [
        {"stop_loss": 130.0},
        {"quantity": 0},
        {"confidence": 101},
        {"option_type": "XX"},
        {"status": "COMPLETED"},
    ],
)
def test_sql_stores_refuse_rule_breaking_writes_that_bypass_services(active_signal, change):
    with pytest.raises(IntegrityError):
        Signal.objects.filter(pk=active_signal.pk).update(**change)
