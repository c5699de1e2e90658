"""Fixtures and tick helpers of the marketdata tests: a trading day's clock, ticks, the local
Angel One peer, and a sandbox for tests that run feed processes."""

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings

from marketdata.services import tick_ingest
from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer
from marketdata.tests.feed.feedprocess import feeds_kill
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


def at_clock(clock: str, day: datetime = TRADING_DAY) -> datetime:
    """`clock` ("HH:MM:SS", IST) on `day`, TRADING_DAY by default."""
    hour, minute, second = map(int, clock.split(":"))
    return day.replace(hour=hour, minute=minute, second=second)


def store(ticks: list[Tick]) -> None:
    """Store ticks as a backfill would, whatever the market hours."""
    result = tick_ingest(ticks=ticks, enforce_market_hours=False)
    assert len(result.stored) == len(ticks), result


@pytest.fixture
def angelone_peer() -> Iterator[AngelOnePeer]:
    """A running local Angel One peer (.api_url, .ws_url, .credentials, control hooks)."""
    peer = AngelOnePeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def angelone_settings(settings, angelone_peer: AngelOnePeer) -> AngelOnePeer:
    """Settings pointing the Angel One source at the peer, with the peer's credentials."""
    settings.ANGEL_ONE_API_URL = angelone_peer.api_url
    settings.ANGEL_ONE_WS_URL = angelone_peer.ws_url
    for name, value in angelone_peer.credentials.as_settings().items():
        setattr(settings, name, value)
    return angelone_peer


@pytest.fixture
def log_dir(tmp_path) -> Iterator[Path]:
    """LOG_DIR (logs, and the heartbeat file without Redis) in this test's folder."""
    with override_settings(LOG_DIR=tmp_path):
        yield tmp_path


@pytest.fixture
def feed_sandbox(log_dir: Path) -> Iterator[Path]:
    """`log_dir`, and no feed process this test started outlives it."""
    yield log_dir
    feeds_kill()
