"""The feed supervisor's rules, called directly with a controlled clock (real Redis, real DB).

Feeds are "started" through the `start` hook here (it records the call and returns a fake
pid); `test_supervisor_worker.py` runs the real `run_feed` through a real Celery worker.
"""

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import pytest
import redis
import time_machine
from django.conf import settings
from django.test import override_settings

from marketdata.feed import heartbeat
from marketdata.market_calendar import IST
from marketdata.models import MarketSession
from marketdata.ops import supervisor
from marketdata.ops.supervisor import Action, feed_supervise, supervisor_health
from marketdata.tests.conftest import TRADING_DAY
from testing.race import run_together
from trading_signals.health import health_report

pytestmark = pytest.mark.django_db

OPEN = TRADING_DAY.replace(hour=9, minute=15)
CLOSE = TRADING_DAY.replace(hour=15, minute=30)
KEYS = (supervisor.STATE_KEY, supervisor.LOCK_KEY, heartbeat.HEARTBEAT_KEY, heartbeat.STOP_KEY)


class Starts:
    """The `start` hook: records when a feed was launched."""

    def __init__(self) -> None:
        self.calls: list = []
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self.calls.append(None)
        return 4242


@pytest.fixture(autouse=True)
def clean_state(log_dir) -> Iterator[None]:
    """Only this suite's keys in this run's Redis db; the in-process store reset too."""
    client = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
    if client:
        client.delete(*KEYS)
    supervisor._MemoryStore.state = supervisor.SupervisorState()
    yield
    if client:
        client.delete(*KEYS)


@pytest.fixture
def starts() -> Starts:
    return Starts()


def beat_now(at) -> None:
    """A feed's heartbeat written at `at`."""
    with time_machine.travel(at, tick=False):
        heartbeat.heartbeat_write(beat={"state": "streaming", "pid": 4242})


def test_missing_heartbeat_in_market_hours_starts_the_feed(starts):
    assert feed_supervise(now=TRADING_DAY, start=starts).action is Action.START
    assert len(starts.calls) == 1
    assert supervisor_health() == "ok"


def test_stale_heartbeat_in_market_hours_starts_the_feed(starts):
    beat_now(TRADING_DAY - timedelta(minutes=5))
    assert feed_supervise(now=TRADING_DAY, start=starts).action is Action.START


def test_fresh_heartbeat_leaves_the_feed_alone(starts):
    beat_now(TRADING_DAY - timedelta(seconds=5))
    assert feed_supervise(now=TRADING_DAY, start=starts).action is Action.RUNNING
    assert starts.calls == []


def test_the_feed_starts_a_few_minutes_before_the_open(starts):
    lead = timedelta(minutes=settings.FEED_SUPERVISOR_PREOPEN_MINUTES)
    assert (
        feed_supervise(now=OPEN - lead - timedelta(seconds=1), start=starts).action is Action.IDLE
    )
    assert feed_supervise(now=OPEN - lead, start=starts).action is Action.START


@pytest.mark.parametrize(
    "day",
    [TRADING_DAY.replace(day=4), TRADING_DAY.replace(month=2, day=26)],
    ids=["saturday", "maha-shivaratri"],
)
def test_no_feed_is_started_when_the_exchanges_are_closed(starts, day):
    assert feed_supervise(now=day, start=starts).action is Action.IDLE
    assert starts.calls == []


def test_a_special_session_on_a_weekend_is_supervised(starts):
    saturday = TRADING_DAY.replace(day=4, hour=18, minute=10)
    MarketSession.objects.create(
        date=saturday.date(), exchange="NSE", kind="SPECIAL", opens_at="18:00", closes_at="19:00"
    )
    assert feed_supervise(now=saturday, start=starts).action is Action.START


def test_after_the_close_a_running_feed_is_asked_to_stop(starts):
    after = CLOSE + timedelta(seconds=30)
    beat_now(after - timedelta(seconds=2))
    assert feed_supervise(now=after, start=starts).action is Action.STOP
    assert heartbeat.stop_requested()
    assert starts.calls == []


def test_a_stopped_feed_is_not_asked_again_after_the_close(starts):
    with time_machine.travel(CLOSE + timedelta(seconds=5), tick=False):
        heartbeat.heartbeat_write(beat={"state": "stopped", "pid": 4242})
    assert feed_supervise(now=CLOSE + timedelta(seconds=30), start=starts).action is Action.IDLE
    assert not heartbeat.stop_requested()


def test_concurrent_passes_start_exactly_one_feed(starts):
    one_pass = partial(feed_supervise, now=TRADING_DAY, start=starts)

    actions = [decision.action for decision in run_together(*[one_pass] * 8)]

    assert len(starts.calls) == 1
    assert actions.count(Action.START) == 1
    assert set(actions) <= {Action.START, Action.STARTING, Action.BUSY}


def test_a_just_started_feed_gets_time_to_write_its_first_heartbeat(starts):
    feed_supervise(now=TRADING_DAY, start=starts)
    grace = settings.FEED_SUPERVISOR_STARTUP_SECONDS
    later = TRADING_DAY + timedelta(seconds=grace - 1)
    assert feed_supervise(now=later, start=starts).action is Action.STARTING
    assert len(starts.calls) == 1


@override_settings(
    FEED_SUPERVISOR_MAX_FAILURES=3,
    FEED_SUPERVISOR_STARTUP_SECONDS=90,
    FEED_SUPERVISOR_BACKOFF_SECONDS=30,
)
def test_a_crashing_feed_is_restarted_with_backoff_then_given_up(starts, caplog):
    started_at = []
    for step in range(0, 600, 10):
        now = TRADING_DAY + timedelta(seconds=step)
        if feed_supervise(now=now, start=starts).action is Action.START:
            started_at.append(step)

    # Up 90 s for a first heartbeat, then waits of 30 s and 60 s; the third failure gives up.
    assert started_at == [0, 120, 270]
    assert supervisor_health() == "down"
    assert health_report()["checks"]["feed_supervisor"] == "down"
    assert not health_report()["healthy"]
    assert "failed to stay up 3 times" in caplog.text

    # The next session starts afresh.
    assert feed_supervise(now=CLOSE + timedelta(minutes=1), start=starts).action is Action.IDLE
    tomorrow = TRADING_DAY + timedelta(days=1)
    assert feed_supervise(now=tomorrow, start=starts).action is Action.START
    assert supervisor_health() == "ok"


def test_a_feed_that_cannot_even_be_launched_counts_as_a_failed_start(settings):
    settings.FEED_SUPERVISOR_COMMAND = "/nonexistent/feed-binary"
    assert feed_supervise(now=TRADING_DAY).action is Action.START
    crashed = TRADING_DAY + timedelta(seconds=settings.FEED_SUPERVISOR_STARTUP_SECONDS)
    assert feed_supervise(now=crashed).action is Action.BACKING_OFF
    assert supervisor_health() == "backing off"


@override_settings(FEED_SUPERVISOR_MAX_FAILURES=2, FEED_SUPERVISOR_STABLE_SECONDS=300)
def test_a_feed_that_stays_up_clears_its_failures(starts):
    feed_supervise(now=TRADING_DAY, start=starts)
    crashed = TRADING_DAY + timedelta(seconds=settings.FEED_SUPERVISOR_STARTUP_SECONDS)
    assert feed_supervise(now=crashed, start=starts).action is Action.BACKING_OFF
    restart = crashed + timedelta(seconds=settings.FEED_SUPERVISOR_BACKOFF_SECONDS)
    assert feed_supervise(now=restart, start=starts).action is Action.START

    up_long = restart + timedelta(seconds=300)
    beat_now(up_long)
    assert feed_supervise(now=up_long, start=starts).action is Action.RUNNING
    died = up_long + timedelta(minutes=5)
    # One more failure after a stable run is the first of a new series, not the last straw.
    assert feed_supervise(now=died, start=starts).action is Action.BACKING_OFF


@override_settings(REDIS_URL="")
def test_without_redis_the_supervisor_keeps_its_state_in_process(starts):
    assert feed_supervise(now=TRADING_DAY, start=starts).action is Action.START
    assert (
        feed_supervise(now=TRADING_DAY + timedelta(seconds=30), start=starts).action
        is Action.STARTING
    )
    assert len(starts.calls) == 1
    assert supervisor_health() == "ok"


@override_settings(REDIS_URL="", FEED_SUPERVISOR_INTERVAL=0.01)
def test_in_process_loop_starts_the_feed_once_and_stops_on_request():
    stop = asyncio.Event()
    launched = []

    def start() -> int:
        launched.append(TRADING_DAY)
        # The embedded feed's first heartbeat.
        heartbeat.heartbeat_write(beat={"state": "streaming", "pid": 1})
        return 1

    async def run() -> None:
        loop = asyncio.create_task(
            supervisor.feed_supervise_forever(start=start, backfill=lambda *gap: None, stop=stop)
        )
        while supervisor._MemoryStore.state.action != Action.RUNNING:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(loop, 5)

    with time_machine.travel(TRADING_DAY.astimezone(IST), tick=True):
        asyncio.run(run())
    assert len(launched) == 1
