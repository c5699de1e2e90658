"""The simulated source: plausible ticks, only while the exchange is in session."""

from datetime import datetime, timedelta

import pytest

from marketdata.feed.simulated import SimulatedSource
from marketdata.market_calendar import IST
from marketdata.models import Instrument, MarketSession
from marketdata.services import tick_ingest
from marketdata.tests.conftest import TRADING_DAY

pytestmark = pytest.mark.django_db

SATURDAY = datetime(2025, 1, 4, 11, 0, tzinfo=IST)


def _source(**options) -> SimulatedSource:
    return SimulatedSource(
        instruments=Instrument.objects.filter(subscribed=True).order_by("symbol"), seed=1, **options
    )


def test_every_index_ticks_during_the_session_and_ingestion_stores_them(market_clock):
    batch = _source().batch_at(TRADING_DAY)

    assert sorted(tick.symbol for tick in batch) == sorted(
        ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX", "BANKEX"]
    )
    assert all(tick.low <= tick.ltpc <= tick.high and tick.volume > 0 for tick in batch)
    assert len(tick_ingest(ticks=batch).stored) == 6


@pytest.mark.parametrize(
    "moment",
    [
        SATURDAY,
        TRADING_DAY.replace(hour=9, minute=14, second=59),
        TRADING_DAY.replace(hour=15, minute=30, second=1),
    ],
    ids=["weekend", "before-open", "after-close"],
)
def test_silent_outside_market_hours(moment):
    assert _source().batch_at(moment) == []


def test_a_special_session_opens_a_closed_day():
    MarketSession.objects.create(
        date=SATURDAY.date(),
        exchange="NSE",
        kind="SPECIAL",
        opens_at=SATURDAY.time(),
        closes_at=(SATURDAY + timedelta(hours=1)).time(),
    )

    assert {tick.exchange for tick in _source().batch_at(SATURDAY)} == {"NSE"}


def test_ignoring_market_hours_ticks_on_a_weekend():
    assert len(_source(ignore_market_hours=True).batch_at(SATURDAY)) == 6


def test_prices_walk_and_sequences_grow():
    source = _source(ignore_market_hours=True)
    steps = [source.batch_at(TRADING_DAY + timedelta(seconds=s)) for s in range(50)]
    nifty = [tick for batch in steps for tick in batch if tick.symbol == "NIFTY"]

    assert [tick.sequence for tick in nifty] == list(range(1, 51))
    assert len({tick.ltpc for tick in nifty}) > 1
    assert all(abs(tick.ltpc / 24500 - 1) < 0.05 for tick in nifty)


def test_ltp_mode_sends_only_the_price():
    tick = _source(mode="ltp", ignore_market_hours=True).batch_at(TRADING_DAY)[0]

    assert tick.ltpc > 0
    assert (tick.open, tick.high, tick.low, tick.close, tick.volume) == (None,) * 5
