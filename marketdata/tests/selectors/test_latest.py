"""The newest tick of each symbol (`selectors.latest_ticks`) and a symbol's ticks
(`selectors.symbol_ticks`): right for busy and quiet symbols alike, in one query."""

from contextlib import nullcontext
from datetime import timedelta

import pytest
from django.db import connection

from marketdata.selectors import latest_ticks, symbol_ticks
from marketdata.tests.conftest import TRADING_DAY, make_tick, make_ticks, store
from marketdata.tests.selectors.options import option_tick, options

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("evening_clock")]

A_WEEK_AGO = TRADING_DAY - timedelta(days=7)


def one_query(django_assert_num_queries):
    """Exactly one query on SQL backends (MongoDB runs one aggregation, counted or not)."""
    if connection.vendor == "mongodb":
        return nullcontext()
    return django_assert_num_queries(1)


def test_each_symbol_gets_its_newest_tick_however_long_ago_it_traded(django_assert_num_queries):
    quiet, other = options(2)
    store([option_tick(quiet, A_WEEK_AGO, 90.0), option_tick(quiet, A_WEEK_AGO + timedelta(1), 95.0)])  # fmt: skip
    store([option_tick(other, TRADING_DAY - timedelta(hours=1), 120.0)])
    store([*make_ticks(500, ltpc=23_000.0), make_tick(ltpc=23_100.0, at=TRADING_DAY + timedelta(seconds=1))])  # fmt: skip
    store(make_ticks(50, "SENSEX", ltpc=75_000.0))

    wanted = ["SENSEX", quiet.symbol, "NIFTY", other.symbol, "BANKNIFTY"]
    with one_query(django_assert_num_queries):
        ticks = latest_ticks(symbols=wanted)

    assert [(t.symbol, t.ltpc, t.received_at) for t in ticks] == [
        ("NIFTY", 23_100.0, TRADING_DAY + timedelta(seconds=1)),
        (quiet.symbol, 95.0, A_WEEK_AGO + timedelta(days=1)),
        (other.symbol, 120.0, TRADING_DAY - timedelta(hours=1)),
        ("SENSEX", 75_000.0, TRADING_DAY),
    ]  # by symbol; BANKNIFTY, without a tick, is left out


def test_the_newest_ticks_are_whole_rows():
    store([make_tick(ltpc=101.0, depth={"buy": [{"price": 100.9, "quantity": 75}]}, volume=7)])

    (tick,) = latest_ticks(symbols=["NIFTY"])

    assert (tick.token, tick.exchange, tick.volume, tick.source) == (
        "99926000",
        "NSE",
        7,
        "angelone",
    )
    assert tick.depth == {"buy": [{"price": 100.9, "quantity": 75}]}
    assert tick.received_at == TRADING_DAY and tick.received_at.tzinfo is not None
    assert tick.data_quality and tick.pk is not None


def test_hundreds_of_symbols_are_still_one_query(django_assert_num_queries):
    many = options(520)  # more than the 500 terms SQLite allows in a compound SELECT
    store([option_tick(option, A_WEEK_AGO + timedelta(seconds=n)) for n, option in enumerate(many)])  # fmt: skip
    store([make_tick()])

    with one_query(django_assert_num_queries):
        ticks = latest_ticks(symbols=[o.symbol for o in many] + ["NIFTY", "SENSEX"])

    assert len(ticks) == 521 and {t.symbol for t in ticks} >= {"NIFTY", many[-1].symbol}


def test_without_symbols_the_streamed_ones_and_nothing_for_none():
    store([make_tick("SENSEX")])
    quiet = options(1)[0]
    store([option_tick(quiet, A_WEEK_AGO)])  # not streamed

    assert [t.symbol for t in latest_ticks()] == ["SENSEX"]
    assert latest_ticks(symbols=[]) == []


def test_a_symbols_ticks_reach_back_past_every_other_symbols_newer_ticks():
    store(make_ticks(3, "SENSEX", start=A_WEEK_AGO))
    store(make_ticks(200, "NIFTY"))

    ticks = symbol_ticks(symbol="SENSEX").order_by("-received_at")

    assert [t.received_at for t in ticks] == [
        A_WEEK_AGO, A_WEEK_AGO - timedelta(seconds=1), A_WEEK_AGO - timedelta(seconds=2)
    ]  # fmt: skip
    assert list(symbol_ticks(symbol="BANKNIFTY")) == []
    bounded = symbol_ticks(
        symbol="NIFTY", start=TRADING_DAY - timedelta(seconds=2), end=TRADING_DAY
    )
    assert bounded.count() == 2
