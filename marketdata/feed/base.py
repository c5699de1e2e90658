"""What every feed source provides, the names the pipeline and `run_feed` rely on, and the
helper with which a source follows the demand.

A source is any object with these attributes. `ticks()` is an async generator yielding
batches of normalized ticks until the source is exhausted (replay) or closed. The pipeline
stops a source by cancelling the task that iterates it, so a source closes its connections
in a `finally:` block (or `async with`) around its loop.

A source may also expose `state: str`, one of `SOURCE_STATES`; the heartbeat reports it.
Sources without it are reported as "streaming" once their first batch arrives. And
`watched` (see `FollowsDemand`): the symbols whose ticks are worth pushing live.

A source built from the demand (`run_feed` without `--symbols`) follows it by itself: it runs
a `DemandFollower` as a task inside `ticks()`, which reads the demand (marketdata/demand/)
when it changes and every `POLL_SECONDS`, and hands each new set to the source's own
`subscriptions_update`. The pipeline needs to know nothing of it.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection

from marketdata.demand import (
    Demand,
    demand_listen,
    demand_read,
    demand_waker_add,
    demand_waker_remove,
)
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

SOURCE_STATES = ("connecting", "streaming", "reconnecting", "waiting", "closed")
POLL_SECONDS = 0.5  # reads of the demand between announced changes (staff marks, expiries)
LOG_EVERY_SECONDS = 30.0
CANCEL_SECONDS = 5.0


class TickSource(Protocol):
    name: str
    stats: dict[str, int]  # counters it exposes (frames, malformed, reconnects...)

    def ticks(self) -> AsyncIterator[list[Tick]]: ...


def _connection_close() -> None:
    with contextlib.suppress(DatabaseError):
        connection.close()


class DemandFollower:
    """Keeps a source's subscriptions equal to the demand.

    `apply(demand)` is called (on the loop) with each demand that differs from the last one
    applied. Reading runs in a thread of its own, with its own database connection; when the
    demand cannot be read (the database or Redis is away) the source keeps its current set,
    the failure is counted in `stats["demand_errors"]` and logged, and reading goes on.
    `stats["demanded"]` is the number of instruments of the last demand applied and
    `stats["over_capacity"]` how many more were demanded than can be streamed.
    """

    def __init__(
        self,
        *,
        default_mode: str,
        apply: Callable[[Demand], None],
        stats: dict[str, int],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.default_mode = default_mode
        self.poll_seconds = poll_seconds
        self._apply = apply
        self._stats = stats
        self._last: Demand | None = None
        self._last_log = -LOG_EVERY_SECONDS
        stats.update(demanded=0, over_capacity=0, demand_updates=0, demand_errors=0)

    @property
    def watched(self) -> frozenset[str] | None:
        """Symbols /ws clients hold now; None until the demand was read."""
        return None if self._last is None else self._last.watched

    def applied(self, demand: Demand) -> None:
        """`demand` is what the source streams already (built from it)."""
        self._last = demand
        self._count(demand)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def waker() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(wake.set)

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-demand")
        demand_waker_add(waker)
        listener = asyncio.create_task(demand_listen(wake=waker), name="feed-demand-listener")
        try:
            while True:
                wake.clear()
                demand = await self._read(executor)
                if demand is not None:
                    self._follow(demand)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_seconds)
        finally:
            demand_waker_remove(waker)
            await task_stop(listener)
            # Closed in the thread that owns it, after any read in progress; waited for (an
            # open connection can hold locks), but a read stuck on the database must not hold
            # up the stop for longer than CANCEL_SECONDS.
            with contextlib.suppress(RuntimeError, TimeoutError):
                await asyncio.wait_for(
                    loop.run_in_executor(executor, _connection_close), CANCEL_SECONDS
                )
            executor.shutdown(wait=False)

    async def _read(self, executor: ThreadPoolExecutor) -> Demand | None:
        streaming = self._last.symbols() if self._last is not None else set()
        try:
            return await sync_to_async(_demand_read, thread_sensitive=False, executor=executor)(
                self.default_mode, streaming, self._last
            )
        except Exception as exc:  # noqa: BLE001 - whatever the cause, keep the current set
            self._stats["demand_errors"] += 1
            now = time.monotonic()
            if now - self._last_log >= LOG_EVERY_SECONDS:
                self._last_log = now
                logger.warning(
                    "The feed cannot read the demand (%s); it keeps streaming its %d instruments",
                    exc,
                    self._stats["demanded"],
                )
            return None

    def _follow(self, demand: Demand) -> None:
        if demand is self._last:
            return  # nothing it is built from has changed
        if self._last is not None and demand.signature() == self._last.signature():
            # The same set from changed inputs: kept, so the next poll compares with them.
            self._last = demand
            self._count(demand)
            return
        try:
            self._apply(demand)
        except Exception:
            logger.exception("The feed could not apply the demand; it will try again")
            return
        if demand.over and (self._last is None or demand.over != self._last.over):
            logger.error(
                "The demand exceeds what the feed can stream: %d instruments are not streamed (%s)",
                len(demand.over),
                ", ".join(demand.over[:10]),
            )
        self._last = demand
        self._count(demand)
        self._stats["demand_updates"] += 1

    def _count(self, demand: Demand) -> None:
        self._stats["demanded"] = len(demand.instruments)
        self._stats["over_capacity"] = len(demand.over)


class FollowsDemand:
    """What a source following the demand tells the pipeline: `watched`, the symbols that
    `/ws` clients hold (None: unknown, so every tick is pushed). A tick of a symbol nobody
    watches is stored but not rendered or published: a feed of thousands of instruments
    spends its live thread on the ones people look at."""

    _follower: DemandFollower | None = None

    @property
    def watched(self) -> frozenset[str] | None:
        return None if self._follower is None else self._follower.watched


async def task_stop(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait for it, cancelling again while it runs on: a cancellation can be
    swallowed (redis-py's asyncio client, while it connects; a thread hand-over finishing at
    that moment), and a stop must still end it. Gives up after CANCEL_SECONDS, logged."""
    deadline = time.monotonic() + CANCEL_SECONDS
    while not task.done():
        if time.monotonic() > deadline:
            logger.warning(
                "%s did not stop within %g s; leaving it", task.get_name(), CANCEL_SECONDS
            )
            return
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("%s ended with %r", task.get_name(), task.exception())


def _demand_read(default_mode: str, streaming: set[str], previous: Demand | None) -> Demand:
    """Runs in the follower's thread; a broken connection is dropped for the next attempt."""
    try:
        return demand_read(default_mode=default_mode, streaming=streaming, previous=previous)
    except DatabaseError:
        _connection_close()
        raise
