"""Keep one `manage.py run_feed` running through each trading session, and none outside it.

`feed_supervise(now=...)` is the whole supervisor: the Celery beat task calls it every
`FEED_SUPERVISOR_INTERVAL` seconds, and `feed_supervise_forever` calls it on the same beat
inside a process that runs the feed itself, when there is no Celery. The rules live in
`supervisor_decide`, a pure function of the time, the feed's heartbeat and the supervisor's
own state, so both callers share one copy of them.

The state and the lock live in Redis when `REDIS_URL` is set, so several workers and beats
agree on one feed; without Redis they live in this process (the embedded, single-process
set-up).
"""

import asyncio
import json
import logging
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from marketdata.feed import heartbeat as feed_heartbeat
from marketdata.market_calendar import IST, market_sessions

logger = logging.getLogger(__name__)

STATE_KEY = "feed-supervisor:state"
LOCK_KEY = "feed-supervisor:lock"
# Longer than one pass of the supervisor can take; a crashed holder frees it on expiry.
LOCK_SECONDS = 20
BACKOFF_CAP = timedelta(minutes=15)


class Action(StrEnum):
    IDLE = "idle"  # outside the session, no feed running
    RUNNING = "running"  # the feed's heartbeat is fresh
    START = "start"
    STARTING = "starting"  # launched, waiting for its first heartbeat
    BACKING_OFF = "backing off"  # the last start failed; waiting before the next
    GAVE_UP = "gave up"
    STOP = "stop"
    BUSY = "busy"  # another supervisor holds the lock


@dataclass(frozen=True)
class SupervisorState:
    failures: int = 0  # consecutive starts that did not produce a lasting heartbeat
    starts: int = 0  # feeds launched this session
    started_at: datetime | None = None
    pid: int | None = None
    retry_at: datetime | None = None
    outage_since: datetime | None = None  # in the session, the feed has been down since
    gave_up: bool = False
    action: str = Action.IDLE
    checked_at: datetime | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=datetime.isoformat)

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> "SupervisorState":
        if not raw:
            return cls()
        data = json.loads(raw)
        for name in ("started_at", "retry_at", "outage_since", "checked_at"):
            if data.get(name):
                data[name] = datetime.fromisoformat(data[name])
        return cls(**data)


# --- the rules --------------------------------------------------------------------------


def supervision_window(*, now: datetime) -> bool:
    """From a few minutes before the first open (NSE or BSE) today until the last close."""
    today = now.astimezone(IST).date()
    sessions = [
        session
        for session in market_sessions(days=[("NSE", today), ("BSE", today)]).values()
        if session is not None
    ]
    if not sessions:
        return False
    lead = timedelta(minutes=settings.FEED_SUPERVISOR_PREOPEN_MINUTES)
    opens = min(session.opens for session in sessions) - lead
    return opens <= now <= max(session.closes for session in sessions)


def feed_alive(*, heartbeat: dict[str, Any] | None, now: datetime) -> bool:
    """A feed wrote a heartbeat recently and has not said it stopped."""
    return (
        heartbeat is not None
        and heartbeat.get("state") != "stopped"
        and not feed_heartbeat.heartbeat_stale(beat=heartbeat, now=now)
    )


def _backoff(failures: int) -> timedelta:
    base = timedelta(seconds=settings.FEED_SUPERVISOR_BACKOFF_SECONDS)
    growth: float = 2 ** (failures - 1)  # typeshed types int ** int as Any
    return min(base * growth, BACKOFF_CAP)


@dataclass(frozen=True)
class Decision:
    action: Action
    state: SupervisorState
    backfill_from: datetime | None = None  # the feed is back after an outage that began then


def supervisor_decide(
    *, now: datetime, in_window: bool, heartbeat: dict[str, Any] | None, state: SupervisorState
) -> Decision:
    """What to do now, and the state to keep. Pure: no I/O."""
    state = replace(state, checked_at=now)
    alive = feed_alive(heartbeat=heartbeat, now=now)
    if not in_window:
        # Each session starts with a clean slate, including after giving up.
        return Decision(Action.STOP if alive else Action.IDLE, SupervisorState(checked_at=now))
    if alive:
        back = Decision(Action.RUNNING, replace(_settled(state, now=now), outage_since=None))
        return replace(back, backfill_from=state.outage_since)
    if state.outage_since is None:
        state = replace(state, outage_since=_last_beat(heartbeat, now=now))
    if state.gave_up:
        return Decision(Action.GAVE_UP, state)
    grace = timedelta(seconds=settings.FEED_SUPERVISOR_STARTUP_SECONDS)
    if state.started_at is not None:
        if now - state.started_at < grace:
            return Decision(Action.STARTING, state)
        return _failed_start(state, now=now)
    if state.retry_at is not None and now < state.retry_at:
        return Decision(Action.BACKING_OFF, state)
    started = replace(state, started_at=now, retry_at=None, starts=state.starts + 1)
    return Decision(Action.START, started)


def _last_beat(heartbeat: dict[str, Any] | None, *, now: datetime) -> datetime:
    if heartbeat is None:
        return now
    return min(now, datetime.fromisoformat(heartbeat["updated_at"]))


def _settled(state: SupervisorState, *, now: datetime) -> SupervisorState:
    """A feed that has stayed up for the stable period clears the failure count."""
    stable = timedelta(seconds=settings.FEED_SUPERVISOR_STABLE_SECONDS)
    if state.started_at is None or now - state.started_at >= stable:
        return replace(state, failures=0, gave_up=False, retry_at=None)
    return state


def _failed_start(state: SupervisorState, *, now: datetime) -> Decision:
    failures = state.failures + 1
    state = replace(state, failures=failures, started_at=None, pid=None)
    if failures >= settings.FEED_SUPERVISOR_MAX_FAILURES:
        logger.error(
            "The feed failed to stay up %d times in a row; the supervisor stops starting it "
            "until the next session. See logs/feed.log.",
            failures,
        )
        return Decision(Action.GAVE_UP, replace(state, gave_up=True))
    retry_at = now + _backoff(failures)
    logger.warning(
        "The feed is down after %d failed start(s); next start at %s", failures, retry_at
    )
    return Decision(Action.BACKING_OFF, replace(state, retry_at=retry_at))


# --- state and lock: Redis when configured, this process otherwise ------------------------


class _RedisStore:
    def __init__(self) -> None:
        self.client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        lock = self.client.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False)
        acquired = lock.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                with suppress(redis.exceptions.LockError):
                    lock.release()

    def load(self) -> SupervisorState:
        return SupervisorState.from_json(self.client.get(STATE_KEY))

    def save(self, state: SupervisorState) -> None:
        self.client.set(STATE_KEY, state.to_json())


class _MemoryStore:
    lock = threading.Lock()
    state = SupervisorState()

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        acquired = self.lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self.lock.release()

    def load(self) -> SupervisorState:
        return _MemoryStore.state

    def save(self, state: SupervisorState) -> None:
        _MemoryStore.state = state


def _store() -> _RedisStore | _MemoryStore:
    return _RedisStore() if settings.REDIS_URL else _MemoryStore()


# --- acting on the decision --------------------------------------------------------------

_children: list[subprocess.Popen[bytes]] = []


def feed_command() -> list[str]:
    if settings.FEED_SUPERVISOR_COMMAND:
        return shlex.split(settings.FEED_SUPERVISOR_COMMAND)
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "run_feed"]


def feed_process_start() -> int:
    """Start `run_feed` as a detached process; its output goes to logs/feed.log."""
    # Reap feeds this process started earlier, so an exited one does not linger as a zombie.
    _children[:] = [child for child in _children if child.poll() is None]
    with open(Path(settings.LOG_DIR) / "feed.log", "ab") as output:
        child = subprocess.Popen(
            feed_command(),
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the worker; a terminal's Ctrl-C does not reach it
        )
    _children.append(child)
    logger.info("Started the feed: pid %d", child.pid)
    return child.pid


def feed_supervise(*, now: datetime, start: Callable[[], int] = feed_process_start) -> Decision:
    """One pass of the supervisor: start, stop or leave the feed as the rules say.

    `start` launches a feed and returns its pid: a separate `run_feed` process by default; a
    process that runs the feed itself (`manage.py serve`) passes its own. The caller acts on
    the decision's `backfill_from` (the Celery task enqueues a backfill; `serve` runs one).
    """
    store = _store()
    with store.exclusive() as acquired:
        if not acquired:
            return Decision(Action.BUSY, SupervisorState(checked_at=now))
        decision = supervisor_decide(
            now=now,
            in_window=supervision_window(now=now),
            heartbeat=feed_heartbeat.heartbeat_read(),
            state=store.load(),
        )
        state = decision.state
        if decision.action is Action.START:
            state = replace(state, pid=_started(start))
        elif decision.action is Action.STOP:
            # The feed checks for it at each heartbeat, flushes what it holds and exits 0.
            feed_heartbeat.stop_request()
            logger.info("Asked the feed to stop: the market is closed")
        store.save(replace(state, action=decision.action))
    if decision.backfill_from is not None:
        logger.info("The feed is back after an outage since %s", decision.backfill_from)
    return decision


def _started(start: Callable[[], int]) -> int | None:
    try:
        return start()
    except Exception:  # counted like a feed that died at once: backoff, then giving up
        logger.exception("Could not start the feed")
        return None


def supervisor_health() -> str:
    """The supervisor's line in /health: "down" once it has given up (the log says why)."""
    try:
        state = _store().load()
    except redis.RedisError:
        return "unknown"  # the redis check reports the outage
    if state.checked_at is None:
        return "not running"
    if state.gave_up:
        return "down"
    return "backing off" if state.action == Action.BACKING_OFF else "ok"


BackfillHook = Callable[[datetime, datetime], object]  # called with (start, end) of a gap


def _supervise_pass(*, start: Callable[[], int], backfill: BackfillHook) -> None:
    now = datetime.now(tz=UTC)
    try:
        decision = feed_supervise(now=now, start=start)
        if decision.backfill_from is not None:
            backfill(decision.backfill_from, now)
    finally:
        close_old_connections()  # as at the end of a request: no connection outlives its use


async def feed_supervise_forever(
    *, start: Callable[[], int], backfill: BackfillHook, stop: asyncio.Event
) -> None:
    """The supervisor inside a process that runs the feed itself, for set-ups without Celery
    beat (`manage.py serve` without Redis): one pass every FEED_SUPERVISOR_INTERVAL seconds
    until `stop` is set. `start` and `backfill` are called from a worker thread."""
    while not stop.is_set():
        try:
            await sync_to_async(_supervise_pass)(start=start, backfill=backfill)
        except Exception:  # one failed pass must not end supervision
            logger.exception("A feed supervisor pass failed")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.FEED_SUPERVISOR_INTERVAL)
