"""Helpers of the end-to-end demand tests: real server processes (daphne) and a real feed
process (`run_feed --source angelone`) on the local Angel One peer, real Redis, and this
test run's database shared with them (see conftest.py here for SQLite's file copy).

Used by marketdata/tests/live/test_demand_live.py and signals/tests/services/.
"""

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from marketdata import demand
from marketdata.market_calendar import IST
from marketdata.models import Instrument, MarketSession
from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer
from marketdata.tests.feed.feedprocess import database_url, feed_env, feed_start, feeds_kill
from testing.server import serving
from testing.waiting import wait_until

INDEX_TOKENS = {"99926000", "99926009", "99926037", "99926074", "99919000", "99919012"}


def database_env(sqlite_file: Path | None) -> str:
    """The DATABASE_URL of this run's test database, for a child process."""
    if sqlite_file is not None:
        return f"sqlite:///{sqlite_file}"
    return database_url(port=int(connection.settings_dict["PORT"] or 5432))


def demand_keys_clear() -> None:
    """Forget holds, touches and refusals other tests' processes left in Redis."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(demand.HOLDS_KEY, demand.TOUCHES_KEY, demand.REFUSALS_KEY)


def session_all_day() -> None:
    """Open today (IST) all day on both exchanges, so the feed pushes the peer's ticks (stamped
    now) whatever the time the tests run."""
    today = datetime.now(tz=UTC).astimezone(IST).date()
    for exchange in ("NSE", "BSE"):
        MarketSession.objects.create(
            date=today,
            exchange=exchange,
            kind="SPECIAL",
            opens_at=clock_time(0, 0),
            closes_at=clock_time(23, 59, 59),
        )


def option_create(symbol: str, token: str) -> Instrument:
    """An option contract of the instrument master (not subscribed)."""
    return Instrument.objects.create(
        token=token,
        symbol=symbol,
        name="NIFTY",
        exchange="NFO",
        exchange_type=2,
        instrument_type="OPTIDX",
        strike=24000.0,
        lot_size=75,
    )


@contextmanager
def server(
    *, sqlite_file: Path | None, log_dir: Path, name: str = "daphne", **extra: Any
) -> Iterator[tuple[str, str]]:
    """A daphne process on our database and Redis: (`ws://.../ws`, `http://...`)."""
    env = {
        "REDIS_URL": settings.REDIS_URL,
        "LOG_DIR": str(log_dir),
        "DATABASE_URL": database_env(sqlite_file),
        **{key: str(value) for key, value in extra.items()},
    }
    with serving(env=env, log=log_dir / f"{name}.log") as port:
        yield f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"


def feed(*, sqlite_file: Path | None, log_dir: Path, peer: AngelOnePeer, **extra: Any) -> Any:
    """`run_feed --source angelone` on the peer, following the demand; returns the process
    once the peer has its first subscription (the subscribed indices)."""
    env = feed_env(
        database=database_env(sqlite_file),
        log_dir=log_dir,
        ANGEL_ONE_API_URL=peer.api_url,
        ANGEL_ONE_WS_URL=peer.ws_url,
        **peer.credentials.as_settings(),
        **extra,
    )
    process = feed_start("run_feed", ["--source=angelone", "--mode=quote"], env)
    wait_for(
        lambda: peer.subscribed_tokens() >= INDEX_TOKENS or process.poll() is not None,
        timeout=30,
        what="the feed's first subscription",
    )
    if process.poll() is not None:
        raise AssertionError(f"the feed exited: {process.communicate()[1]}")
    time.sleep(0.3)  # its demand follower subscribes to the announcements meanwhile
    return process


# Demand checks poll every 5 ms: their tests time how soon the feed follows.
wait_for = functools.partial(wait_until, interval=0.005)


def peer_request(peer: AngelOnePeer, *, token: str, action: int, since: int = 0) -> bool:
    """The peer received a subscribe (1) or unsubscribe (0) naming `token` (after message
    number `since`)."""
    return any(
        message["action"] == action
        and any(token in group["tokens"] for group in message["params"]["tokenList"])
        for message in peer.subscribe_messages[since:]
    )


def seconds_until(check: Callable[[], bool], *, since: float, timeout: float, what: str) -> float:
    """Seconds from `since` (a time.monotonic()) until `check()` holds."""
    wait_for(check, timeout=timeout, what=what)
    return time.monotonic() - since


@contextmanager
def feed_ready(peer: AngelOnePeer, *, sqlite_file: Path | None, log_dir: Path) -> Iterator[dict]:
    """Today open all day, no demand left by other tests, and the peer sending a frame per
    token every 100 ms; afterwards no feed process and no demand are left behind. Yields the
    `world` the end-to-end tests share."""
    session_all_day()
    demand_keys_clear()
    peer.tick_interval = 0.1
    try:
        yield {"sqlite_file": sqlite_file, "log_dir": log_dir, "peer": peer}
    finally:
        feeds_kill()
        demand_keys_clear()
