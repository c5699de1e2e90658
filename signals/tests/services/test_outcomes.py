"""Outcome tracking on generated tick sequences, and expiry."""

import threading
from datetime import datetime, time, timedelta
from functools import partial

import pytest
import time_machine
from django.db import connection

from marketdata.market_calendar import IST
from marketdata.models import MarketData
from signals import selectors, services
from signals.models import Outcome, Signal, Status
from signals.tests.helpers import (
    OPTION,
    dated_option,
    sell_data,
    signal_data,
    tick,
    ticks_after,
    today_ist,
)
from testing.race import run_together

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]


def outcome_after(signal: Signal, prices: list[float]) -> tuple[int, Signal]:
    ticks = ticks_after(signal.created_at, prices, symbol=signal.symbol)
    closed = services.signal_outcomes_check(ticks=ticks)
    signal.refresh_from_db()
    return closed, signal


def test_buy_reaching_target_closes_as_target_hit_at_that_ticks_price_and_time(active_signal):
    closed, signal = outcome_after(active_signal, [125.0, 140.0, 151.5, 160.0])

    assert closed == 1
    assert (signal.status, signal.outcome, signal.exit_price) == ("COMPLETED", "TARGET_HIT", 151.5)
    assert signal.closed_at == active_signal.created_at + timedelta(seconds=3)


def test_buy_reaching_stop_loss_closes_as_stop_loss_hit(active_signal):
    closed, signal = outcome_after(active_signal, [115.0, 104.0, 99.0, 160.0])

    assert closed == 1
    assert (signal.outcome, signal.exit_price, signal.points) == ("STOP_LOSS_HIT", 99.0, -21.0)


def test_touching_a_level_exactly_counts_as_reaching_it(make_signal):
    _, at_target = outcome_after(make_signal(), [150.0])
    _, at_stop = outcome_after(make_signal(), [100.0])

    assert (at_target.outcome, at_stop.outcome) == ("TARGET_HIT", "STOP_LOSS_HIT")


def test_gap_through_the_stop_then_the_target_closes_once_at_the_gapped_stop_price(active_signal):
    closed, signal = outcome_after(active_signal, [110.0, 82.0, 170.0])

    assert closed == 1
    assert (signal.outcome, signal.exit_price) == ("STOP_LOSS_HIT", 82.0)
    assert services.signal_outcomes_check(ticks=ticks_after(signal.created_at, [175.0])) == 0
    signal.refresh_from_db()
    assert (signal.outcome, signal.exit_price) == ("STOP_LOSS_HIT", 82.0)


def test_gap_open_beyond_the_target_closes_at_the_gapped_price_not_the_target(active_signal):
    _, signal = outcome_after(active_signal, [190.0, 95.0])

    assert (signal.outcome, signal.exit_price, signal.points) == ("TARGET_HIT", 190.0, 70.0)


def test_never_reaching_either_level_leaves_the_signal_active(active_signal):
    closed, signal = outcome_after(active_signal, [105.0, 130.0, 149.95, 100.05, 121.0])

    assert closed == 0
    assert signal.status == Status.ACTIVE and signal.outcome is None


@pytest.mark.parametrize(
    ("prices", "outcome", "exit_price"),
    [
        ([110.0, 89.0], "TARGET_HIT", 89.0),
        ([130.0, 141.0], "STOP_LOSS_HIT", 141.0),
        ([60.0, 200.0], "TARGET_HIT", 60.0),
        ([100.0, 139.9], None, None),
    ],
)
def test_sell_levels_are_mirrored(staff_user, prices, outcome, exit_price):
    signal = services.signal_create(author=staff_user, data=sell_data())

    _, signal = outcome_after(signal, prices)

    assert (signal.outcome, signal.exit_price) == (outcome, exit_price)


def test_a_batch_out_of_time_order_is_judged_in_time_order(active_signal):
    start = active_signal.created_at
    batch = [tick(160.0, start + timedelta(seconds=5)), tick(95.0, start + timedelta(seconds=2))]

    services.signal_outcomes_check(ticks=batch)

    active_signal.refresh_from_db()
    assert (active_signal.outcome, active_signal.exit_price) == ("STOP_LOSS_HIT", 95.0)


def test_prices_from_before_the_signal_was_published_are_ignored(active_signal):
    earlier = tick(200.0, active_signal.created_at - timedelta(seconds=1))

    assert services.signal_outcomes_check(ticks=[earlier]) == 0


def test_index_ticks_never_decide_an_option_signal(staff_user):
    """An index level (24,000) is not the option's premium: a signal stored on the bare index
    code before signals were tied to the master (it matched no option) waits for staff."""
    signal = Signal.objects.create(
        user=staff_user, symbol="NIFTY", underlying="NIFTY", option_type="CE", signal_type="BUY",
        entry_price=120.0, target_price=150.0, stop_loss=100.0, quantity=1, confidence=70,
    )  # fmt: skip

    closed, signal = outcome_after(signal, [24000.0, 23950.0])

    assert closed == 0 and signal.status == Status.ACTIVE


def test_other_symbols_ticks_leave_the_signal_alone(active_signal):
    other = ticks_after(active_signal.created_at, [500.0, 1.0], symbol="NIFTY25DEC24000PE")

    assert services.signal_outcomes_check(ticks=other) == 0
    active_signal.refresh_from_db()
    assert active_signal.status == Status.ACTIVE


def test_cancelled_signals_are_not_tracked(active_signal):
    services.signal_cancel(signal=active_signal)

    closed, signal = outcome_after(active_signal, [160.0])

    assert closed == 0 and signal.status == Status.CANCELLED


def test_every_signal_on_the_symbol_is_checked_in_one_call(make_signal):
    first, second, third = (
        make_signal(),
        make_signal(target_price=130.0),
        make_signal(stop_loss=80.0),
    )

    closed = services.signal_outcomes_check(ticks=ticks_after(first.created_at, [135.0, 95.0]))

    outcomes = [Signal.objects.get(pk=s.pk).outcome for s in (first, second, third)]
    assert closed == 2
    assert outcomes == ["STOP_LOSS_HIT", "TARGET_HIT", None]


def test_two_workers_with_the_same_ticks_close_a_signal_exactly_once(
    active_signal, monkeypatch, django_capture_on_commit_callbacks
):
    """Both workers saw it ACTIVE; only the first conditional UPDATE still finds it so."""
    seen_by_both = selectors.signals_active_for(symbols=[OPTION])
    monkeypatch.setattr(selectors, "signals_active_for", lambda symbols: seen_by_both)
    ticks = ticks_after(active_signal.created_at, [151.0])

    with django_capture_on_commit_callbacks() as published:
        first = services.signal_outcomes_check(ticks=ticks)
        second = services.signal_outcomes_check(ticks=ticks)

    assert (first, second) == (1, 0)
    assert len(published) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrent writers: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_feed_workers_close_a_signal_exactly_once(staff_user, monkeypatch):
    signal = services.signal_create(author=staff_user, data=signal_data())
    ticks = ticks_after(signal.created_at, [99.0])
    both_have_read = threading.Barrier(2)
    read = selectors.signals_active_for

    def read_then_wait(*, symbols):
        found = read(symbols=symbols)
        both_have_read.wait(timeout=10)
        return found

    monkeypatch.setattr(selectors, "signals_active_for", read_then_wait)
    check = partial(services.signal_outcomes_check, ticks=ticks)

    closed = run_together(check, check, timeout=20)

    assert sorted(closed) == [0, 1]
    signal.refresh_from_db()
    assert (signal.outcome, signal.exit_price) == ("STOP_LOSS_HIT", 99.0)


# --- Expiry ------------------------------------------------------------------------------


def ist(day_offset: int, at: time) -> datetime:
    return datetime.combine(today_ist() + timedelta(days=day_offset), at, tzinfo=IST)


@pytest.fixture
def expiring_today(make_signal) -> Signal:
    """Published at 10:00 IST on an option expiring today."""
    symbol = dated_option(today_ist())
    with time_machine.travel(ist(0, time(10)), tick=False):
        return make_signal(symbol=symbol)


def test_a_signal_is_still_active_before_the_close_of_its_expiry_day(expiring_today):
    assert services.signals_expire(now=ist(0, time(15, 29, 59))) == 0


def test_a_signal_expires_at_the_close_of_its_expiry_day(expiring_today, make_signal):
    next_month, later = make_signal(), make_signal(symbol=dated_option(ist(7, time(0)).date()))
    close = ist(0, time(15, 30))

    assert services.signals_expire(now=close) == 1

    expiring_today.refresh_from_db()
    assert (expiring_today.status, expiring_today.outcome) == ("COMPLETED", "EXPIRED")
    assert expiring_today.closed_at == close
    assert expiring_today.exit_price is None  # the feed never carried this option
    statuses = Signal.objects.filter(pk__in=[next_month.pk, later.pk]).values_list(
        "status", flat=True
    )
    assert set(statuses) == {Status.ACTIVE}


def test_an_expired_signal_closes_at_the_options_last_stored_price(expiring_today):
    MarketData.objects.create(
        tk="45678",
        token="45678",
        symbol=expiring_today.symbol,
        ltpc=12.5,
        received_at=ist(0, time(15, 29, 50)),
        source="angelone",
        data_quality="GOOD",
    )

    services.signals_expire(now=ist(1, time(9, 0)))

    expiring_today.refresh_from_db()
    assert (expiring_today.outcome, expiring_today.exit_price) == (Outcome.EXPIRED, 12.5)


def test_expiring_twice_closes_once(expiring_today):
    assert services.signals_expire(now=ist(1, time(9, 0))) == 1
    assert services.signals_expire(now=ist(1, time(9, 1))) == 0
