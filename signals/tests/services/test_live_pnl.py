"""Live P&L: `price` signal events as an ACTIVE signal's option ticks, conflated to at most
SIGNAL_PNL_EVENTS_PER_SECOND a signal; the ACTIVE signals come from the after-store hook.

End to end (a real feed, daphne and a /ws client): test_live_pnl_ws.py."""

from datetime import timedelta

import pytest
from django.test import override_settings

from marketdata.feed.hooks import after_store_run, live_run
from signals import live_pnl
from signals.models import Status
from signals.tests.helpers import (
    OPTION,
    SELL_OPTION,
    events_after,
    sell_data,
    tick,
    ticks_after,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]


def _followed(*signals) -> live_pnl.PriceEvents:
    events = live_pnl.PriceEvents()
    events.follow(signals)
    return events


@override_settings(SIGNAL_PNL_EVENTS_PER_SECOND=2)
def test_price_events_are_conflated_to_the_newest_price_twice_a_second(active_signal):
    events = _followed(active_signal)
    start = active_signal.created_at

    first = events.seen(ticks_after(start, [125.0]), now=100.0)
    meanwhile = events.seen(ticks_after(start, [126.0, 127.0]), now=100.2)
    later = events.seen(ticks_after(start, [128.0]), now=100.4)
    due = events.seen([], now=100.5)

    assert [event["signal"]["last_price"] for event in first] == [125.0]
    assert meanwhile == [] and later == []
    assert [event["signal"]["last_price"] for event in due] == [128.0]  # the newest of three


def test_each_signal_on_the_option_gets_its_own_event(make_signal):
    buy, sell = make_signal(), make_signal(**sell_data(symbol=OPTION))
    events = _followed(buy, sell)

    sent = events.seen([tick(130.0, buy.created_at + timedelta(seconds=1))], now=0.0)

    by_type = {event["signal"]["signal_type"]: event["signal"] for event in sent}
    # 2 lots of 75 from 120 at 130: BUY +10 (1,500); SELL -10 (-1,500)
    assert by_type["BUY"]["unrealised_pnl"]["total"]["rupees"] == 1500.0
    assert by_type["SELL"]["unrealised_pnl"]["total"]["rupees"] == -1500.0
    assert {event["action"] for event in sent} == {"price"}


def test_ticks_of_other_symbols_send_nothing(active_signal):
    events = _followed(active_signal)
    start = active_signal.created_at

    assert events.seen(ticks_after(start, [24000.0], symbol="NIFTY"), now=0.0) == []
    assert events.seen(ticks_after(start, [90.0], symbol=SELL_OPTION), now=1.0) == []


def test_the_after_store_hook_hands_over_the_signals_still_active(make_signal):
    """Stored ticks close the signal whose target they reach; the other is priced live."""
    reached, open_one = make_signal(target_price=130.0), make_signal(target_price=160.0)

    after_store_run(ticks=ticks_after(reached.created_at, [131.0]))

    reached.refresh_from_db()
    assert reached.status == Status.COMPLETED
    sent = live_pnl.PRICE_EVENTS.seen(ticks_after(open_one.created_at, [135.0]), now=0.0)
    assert [event["signal"]["id"] for event in sent] == [open_one.pk]


def test_a_price_move_reaches_every_connected_client(active_signal, tag):
    active_signal.notes = tag  # the followed copy carries the tag the receiver looks for
    live_pnl.signals_follow(signals=[active_signal])

    def option_moves() -> None:
        live_run(ticks=ticks_after(active_signal.created_at, [104.25]))

    [event] = events_after(option_moves, tag=tag, count=1)

    assert (event["type"], event["action"]) == ("signal", "price")
    assert event["signal"]["last_price"] == 104.25
    # BUY 2 lots of 75 from 120: -15.75 a unit, -1,181.25 a lot, -2,362.50 in all
    assert event["signal"]["unrealised_pnl"]["per_lot"]["rupees"] == -1181.25
    assert event["signal"]["unrealised_pnl"]["total"]["rupees"] == -2362.5
