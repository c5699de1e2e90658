"""The supervisor in real processes: a Celery worker starting and stopping a real `run_feed`,
and `manage.py serve --supervise` without Redis (the embedded set-up, no Celery).

The worker and the feeds it starts use this test's Redis db and database; the clock of each
supervisor pass is the `now` the test sends with the task.
"""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from marketdata.feed import heartbeat
from marketdata.market_calendar import IST
from marketdata.models import MarketSession
from marketdata.ops import supervisor
from marketdata.ops.supervisor import SupervisorState, supervisor_health
from marketdata.tasks import feed_supervise
from marketdata.tests.conftest import TRADING_DAY
from marketdata.tests.feed.feedprocess import (
    MANAGE,
    feed_database,
    feed_env,
    feed_finish,
    feed_start,
)
from testing.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_sandbox")]

CLOSE = TRADING_DAY.replace(hour=15, minute=30)
KEYS = (supervisor.STATE_KEY, supervisor.LOCK_KEY, heartbeat.HEARTBEAT_KEY, heartbeat.STOP_KEY)


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen
    log: Path

    def supervise(self, now: datetime) -> str:
        """One supervisor pass at `now`, through the worker; returns what it did."""
        feed_supervise.apply_async(kwargs={"now": now.isoformat()}, queue=self.queue)
        return wait_until(lambda: _done_at(now), timeout=30, what=f"the pass at {now} ({self.log})")


def _state() -> SupervisorState:
    return supervisor._store().load()


def _done_at(now: datetime) -> str | None:
    state = _state()
    return state.action if state.checked_at == now else None


@pytest.fixture
def clean_redis() -> Iterator[None]:
    if not settings.REDIS_URL:
        pytest.skip("A Celery worker needs REDIS_URL (its broker)")
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*KEYS)
    yield
    started = _state().pid  # a feed this test's worker started and a failure left running
    if started and _is_feed(started):
        os.kill(started, signal.SIGKILL)
    client.delete(*KEYS)


def _is_feed(pid: int) -> bool:
    """A `manage.py run_feed` process (not, say, a pytest whose arguments mention run_feed)."""
    try:
        return b"run_feed" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


@pytest.fixture
def start_worker(tmp_path, clean_redis) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(**settings_env: str) -> Worker:
        database = feed_database(tmp_path)
        queue = f"test-supervisor-{uuid.uuid4().hex[:8]}"
        log = tmp_path / f"{queue}.log"
        command = [sys.executable, "-m", "celery", "-A", "trading_signals", "worker"]
        options = ["-Q", queue, "-n", f"{queue}@%h", "--concurrency=2", "--loglevel=INFO"]
        options += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [*command, *options],
                env=feed_env(database=database.url, log_dir=tmp_path, **settings_env),
                cwd=settings.BASE_DIR,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        workers.append(Worker(queue=queue, process=process, log=log))
        return workers[-1]

    yield start
    for worker in workers:
        worker.process.send_signal(signal.SIGQUIT)  # cold shutdown: the test is over
        try:
            worker.process.wait(15)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def _running_feed() -> dict | None:
    beat = heartbeat.heartbeat_read()
    return beat if beat and beat.get("state") != "stopped" else None


def test_worker_starts_one_feed_in_market_hours_and_stops_it_after_the_close(start_worker):
    worker = start_worker()

    # Several passes at once, as several beats or a backlog would send them.
    for _ in range(6):
        feed_supervise.apply_async(kwargs={"now": TRADING_DAY.isoformat()}, queue=worker.queue)
    beat = wait_until(_running_feed, timeout=45, what=f"the feed's first heartbeat ({worker.log})")
    assert _is_feed(beat["pid"])
    assert _state().starts == 1

    # Fresh heartbeat: nothing to do.
    assert worker.supervise(TRADING_DAY + timedelta(seconds=30)) == "running"
    assert _state().starts == 1
    assert heartbeat.heartbeat_read()["pid"] == beat["pid"]

    # After the close the feed is asked to stop, and does so cleanly.
    assert worker.supervise(CLOSE + timedelta(minutes=1)) == "stop"
    stopped = wait_until(
        lambda: heartbeat.heartbeat_read()["state"] == "stopped", timeout=30, what="the stop"
    )
    assert stopped


def test_worker_backs_off_a_crashing_feed_then_gives_up(start_worker, tmp_path):
    # Without credentials the Angel One source exits at once with status 2.
    worker = start_worker(
        FEED_SUPERVISOR_COMMAND=f"{sys.executable} {MANAGE} run_feed --source angelone",
        FEED_SUPERVISOR_MAX_FAILURES="2",
        FEED_SUPERVISOR_STARTUP_SECONDS="90",
        FEED_SUPERVISOR_BACKOFF_SECONDS="30",
    )

    assert worker.supervise(TRADING_DAY) == "start"
    wait_until(
        lambda: "ANGEL_ONE" in _feed_log(tmp_path), timeout=30, what="the feed's exit message"
    )
    steps = {s: worker.supervise(TRADING_DAY + timedelta(seconds=s)) for s in (60, 90, 100, 120)}
    assert steps == {60: "starting", 90: "backing off", 100: "backing off", 120: "start"}
    assert worker.supervise(TRADING_DAY + timedelta(seconds=210)) == "gave up"
    assert worker.supervise(TRADING_DAY + timedelta(seconds=600)) == "gave up"

    assert _state().starts == 2
    assert supervisor_health() == "down"
    assert "failed to stay up 2 times" in worker.log.read_text()


def _feed_log(log_dir: Path) -> str:
    path = log_dir / "feed.log"
    return path.read_text() if path.exists() else ""


def test_serve_without_redis_supervises_its_own_feed(tmp_path):
    # A special session around the clock today, so the real clock is in market hours.
    today = datetime.now(tz=IST).date()
    for exchange in ("NSE", "BSE"):
        MarketSession.objects.create(
            date=today, exchange=exchange, kind="SPECIAL", opens_at=time(0), closes_at=time(23, 59)
        )
    database = feed_database(tmp_path)
    env = feed_env(database=database.url, log_dir=tmp_path, REDIS_URL="")
    process = feed_start("serve", ["--port=0", "--source=simulated", "--supervise"], env)

    with override_settings(REDIS_URL=""):
        beat = wait_until(_running_feed, timeout=30, what="the supervised feed's heartbeat")
        assert beat["pid"] == process.pid  # the feed runs inside the server process
        process.send_signal(signal.SIGTERM)
        status, log = feed_finish(process)
        assert status == 0, log
        assert heartbeat.heartbeat_read()["state"] == "stopped"
