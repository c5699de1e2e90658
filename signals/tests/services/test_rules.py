"""The rules of signals/rules.py, shared by the API and the admin. How the option is found in
the instrument master: test_contracts.py."""

import pytest
from django.db import IntegrityError, connection

from signals import rules, services
from signals.models import Outcome, Signal, Status
from signals.tests.helpers import sell_data, signal_data
from trading_signals.errors import ApplicationError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]


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
    assert (signal.underlying, signal.option_type) == ("NIFTY", "CE")
    assert signal.outcome is None and signal.closed_at is None


def test_a_sell_put_takes_its_underlying_and_type_from_its_contract(staff_user):
    signal = services.signal_create(author=staff_user, data=sell_data())

    assert (signal.underlying, signal.option_type) == ("BANKNIFTY", "PE")


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
    assert errors_of(staff_user, quantity=quantity) == {
        "quantity": ["Must be a positive integer (lots)."]
    }


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


def test_missing_fields_and_a_symbol_that_is_no_option_are_each_named(staff_user):
    with pytest.raises(ApplicationError) as caught:
        services.signal_create(author=staff_user, data={"symbol": "NIFTY"})  # the index

    assert {"symbol", "entry_price", "quantity", "confidence"} <= caught.value.errors.keys()


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


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("symbol", "NIFTY25DEC24500CE"),
        ("strike", 24500.0),
        ("option_type", "PE"),
        ("underlying", "BANKNIFTY"),
    ],
)
def test_a_published_signals_option_cannot_change(active_signal, field, value):
    with pytest.raises(ApplicationError) as caught:
        services.signal_update(signal=active_signal, data={field: value, "notes": "roll"})

    assert caught.value.errors == {field: [rules.CONTRACT_FIXED]}
    active_signal.refresh_from_db()
    assert (active_signal.symbol, active_signal.notes) == ("NIFTY25DEC24000CE", "")


def test_an_edit_may_repeat_the_option_it_is_on(active_signal):
    same = {"symbol": " nifty25dec24000ce ", "strike": 24000, "option_type": "CE", "underlying": ""}

    updated = services.signal_update(signal=active_signal, data={**same, "target_price": 155.0})

    assert (updated.symbol, updated.target_price) == ("NIFTY25DEC24000CE", 155.0)


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
        "entry_price": [rules.CLOSED_READ_ONLY],
        "quantity": [rules.CLOSED_READ_ONLY],
    }

    noted = services.signal_update(
        signal=closed, data={"notes": "Cancelled: event risk", "quantity": 2}
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
        {"token": ""},
        {"lot_size": None},
    ],
)
def test_sql_stores_refuse_rule_breaking_writes_that_bypass_services(active_signal, change):
    with pytest.raises(IntegrityError):
        Signal.objects.filter(pk=active_signal.pk).update(**change)
