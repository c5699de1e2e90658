from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from marketdata.services import tick_ingest
from marketdata.ticks import Tick

IST = ZoneInfo("Asia/Kolkata")
# A Monday that is no exchange holiday; the clock in tests stands at 10:00 IST on it.
TRADING_DAY = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
TOKENS = {
    "NIFTY": ("99926000", "NSE"),
    "BANKNIFTY": ("99926009", "NSE"),
    "SENSEX": ("99919000", "BSE"),
}


@pytest.fixture
def market_clock() -> Iterator[object]:
    with time_machine.travel(TRADING_DAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def evening_clock() -> Iterator[object]:
    """After the close of TRADING_DAY, so every tick of that day is in the past."""
    with time_machine.travel(TRADING_DAY.replace(hour=20), tick=False) as traveller:
        yield traveller


def make_tick(name: str = "NIFTY", at: datetime = TRADING_DAY, **overrides: object) -> Tick:
    token, exchange = TOKENS[name]
    tick = Tick(token=token, symbol=name, ltpc=23500.0, received_at=at, exchange=exchange)
    return replace(tick, **overrides)


def make_ticks(
    count: int, symbol: str = "NIFTY", start: datetime = TRADING_DAY, **kw
) -> list[Tick]:
    """One tick a second, ending at `start`, so none is in the future."""
    first = start - timedelta(seconds=count - 1)
    return [make_tick(symbol, first + timedelta(seconds=i), **kw) for i in range(count)]


@pytest.fixture
def tick_factory() -> Callable[..., Tick]:
    return make_tick


def at_ist(day: tuple[int, int, int], clock: str) -> datetime:
    hour, minute, second = map(int, clock.split(":"))
    return datetime(*day, hour, minute, second, tzinfo=IST)


def store(ticks: list[Tick]) -> None:
    """Store ticks as a backfill would, whatever the market hours."""
    result = tick_ingest(ticks=ticks, enforce_market_hours=False)
    assert len(result.stored) == len(ticks), result
