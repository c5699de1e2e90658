"""The feed pipeline: a source's batches -> the live push at once -> a bounded buffer -> storage.

Live first: a tick reaches `/ws` clients as soon as it is parsed and validated, before it is
stored, and storage follows in batches behind it.
- the reader iterates the source and hands each batch to the live thread (never waiting on
  the database, so a slow or absent database never stalls the connection to the broker);
- the live thread runs the live gate (feed/gate.py: ingestion's rules on cached lookups),
  publishes the ticks it admits, runs the live hooks with them (feed/hooks.py: signals'
  live P&L), and appends every valid tick to the storage buffer;
- the writer takes up to `FEED_FLUSH_TICKS` ticks, or whatever arrived within `FEED_FLUSH_MS`,
  and in its worker thread inserts them (each (symbol, received_at) once, as always), then
  runs the after-store hooks with the ticks that were new (signal outcomes, feed/hooks.py);
- the heartbeat task writes the counters every `FEED_HEARTBEAT_SECONDS`.

When the database is unavailable the writer keeps the batch and retries with capped,
jittered backoff while the buffer keeps filling. The buffer holds at most
`FEED_BUFFER_MAX_TICKS` ticks (the batch being retried included); beyond that the OLDEST
waiting ticks are dropped, counted, logged and reported in the heartbeat: a live feed values
the newest prices, and the gap sits in the past where a backfill can repair it.
"""

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymongo.errors
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from marketdata import storage
from marketdata.feed import heartbeat
from marketdata.feed.base import TickSource
from marketdata.feed.buffer import TickBuffer
from marketdata.feed.gate import LiveGate
from marketdata.feed.hooks import after_store_run, live_run
from marketdata.feed.recorder import TickRecorder
from marketdata.live.publish import ticks_publish
from marketdata.models import Instrument
from marketdata.services import IngestResult, instruments_by_token
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
DROP_LOG_EVERY_SECONDS = 10.0


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached now", worth retrying.

    One place per backend: Django's wrappers for SQL backends, pymongo's for MongoDB.
    """
    return isinstance(exc, OperationalError | InterfaceError | pymongo.errors.ConnectionFailure)


def _connection_close() -> None:
    """Close this thread's connection (an attribute lookup on `connection` is per thread)."""
    with contextlib.suppress(DatabaseError):
        connection.close()


@dataclass
class FeedCounters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    after_hours: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    dropped: int = 0  # beyond the buffer bound, or still unstored when a stop timed out
    failed: int = 0  # in batches ingestion refused with an unexpected error (logged)
    publish_errors: int = 0
    last_tick_at: datetime | None = None  # exchange time of the newest tick received
    last_received_at: datetime | None = None  # wall time the newest batch arrived

    def count(self, result: IngestResult) -> None:
        """What the live gate refused; the writer counts what it stored."""
        self.duplicates += result.duplicates
        self.after_hours += result.after_hours
        for reason, n in result.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n


@dataclass(frozen=True)
class PipelineSettings:
    flush_ticks: int
    flush_seconds: float
    buffer_max_ticks: int
    heartbeat_seconds: float
    stop_timeout_seconds: float
    enforce_market_hours: bool = True

    @classmethod
    def from_settings(cls, *, enforce_market_hours: bool = True) -> "PipelineSettings":
        if settings.FEED_BUFFER_MAX_TICKS < settings.FEED_FLUSH_TICKS:
            raise ImproperlyConfigured("FEED_BUFFER_MAX_TICKS must be at least FEED_FLUSH_TICKS.")
        return cls(
            flush_ticks=settings.FEED_FLUSH_TICKS,
            flush_seconds=settings.FEED_FLUSH_MS / 1000,
            buffer_max_ticks=settings.FEED_BUFFER_MAX_TICKS,
            heartbeat_seconds=settings.FEED_HEARTBEAT_SECONDS,
            stop_timeout_seconds=settings.FEED_STOP_TIMEOUT_SECONDS,
            enforce_market_hours=enforce_market_hours,
        )


class FeedPipeline:
    """One source's ticks to the live push and the store. Three threads besides the loop: the
    live thread (gate and publish), the writer (one database connection for the feed's life)
    and the heartbeat."""

    def __init__(
        self,
        *,
        source: TickSource,
        config: PipelineSettings,
        recorder: TickRecorder | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.recorder = recorder
        self.counters = FeedCounters()
        self.buffer = TickBuffer(config.buffer_max_ticks)
        self.database = "ok"
        self.started_at = datetime.now(tz=UTC)
        self.stopped = False
        self.gate = LiveGate(enforce_market_hours=config.enforce_market_hours)
        # One thread each, so batches keep their order through the gate and the store.
        self._live_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-live")
        self._live_pending: list[list[Tick]] = []
        self._live_scheduled = False
        self._live_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-writer")
        # Heartbeats have their own thread: they go on while the writer waits on the database,
        # and one thread keeps them in order (the final "stopped" beat is the last one).
        self._beat_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-beat")
        self._last_drop_log = 0.0

    async def run(self, *, stop: asyncio.Event) -> FeedCounters:
        """Run until `stop` is set or the source is exhausted; flush; return the counters.

        An exception from the source (e.g. FeedConfigurationError) is re-raised after the
        ticks already received have been flushed.
        """
        await self._beat_call(heartbeat.stop_request_clear)
        reader = asyncio.create_task(self._read(), name="feed-reader")
        writer = asyncio.create_task(self._write(), name="feed-writer")
        beats = asyncio.create_task(self._beat(stop), name="feed-heartbeat")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await self._live_drained()
            await self._drain(writer)
            beats.cancel()
            self.stopped = True
            await self._close()
        return self.counters

    async def _read(self) -> None:
        async for batch in self.source.ticks():
            if not batch:
                continue
            self.counters.received += len(batch)
            self.counters.last_tick_at = batch[-1].received_at
            self.counters.last_received_at = datetime.now(tz=UTC)
            if self.recorder is not None:
                self.recorder.write(batch)
            # Batches that arrive while the live thread works go through it together, so its
            # per-batch costs (the gate, two Redis round trips) do not pile up.
            with self._live_lock:
                self._live_pending.append(batch)
                idle, self._live_scheduled = not self._live_scheduled, True
            if idle:
                self._live_executor.submit(self._go_live_pending, asyncio.get_running_loop())

    def _go_live_pending(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._live_lock:
            batches, self._live_pending = self._live_pending, []
            self._live_scheduled = False
        self._go_live(loop, [tick for batch in batches for tick in batch])

    def _go_live(self, loop: asyncio.AbstractEventLoop, batch: list[Tick]) -> None:
        """Runs in the live thread: gate, publish, then hand the valid ticks to storage."""
        try:
            admitted = self.gate.admit(batch)
        except Exception:  # a bug must not stop the stream: count, log, go on
            self.counters.failed += len(batch)
            logger.exception("The live gate refused a batch of %d ticks", len(batch))
            return
        self.counters.count(admitted.prepared)
        watched = getattr(self.source, "watched", None)
        if watched is None:
            self._publish(admitted.push)
        else:
            self._publish([tick for tick in admitted.push if tick.symbol in watched])
        live_run(ticks=admitted.push)
        if admitted.store:
            loop.call_soon_threadsafe(self._to_store, admitted.store)

    def _to_store(self, ticks: list[Tick]) -> None:
        self._dropped(self.buffer.add(ticks), why="the buffer is full")

    async def _live_drained(self) -> None:
        """Wait for the live thread to finish what the reader gave it, and its hand-overs."""
        await asyncio.wrap_future(self._live_executor.submit(lambda: None))
        await asyncio.sleep(0)  # the call_soon_threadsafe hand-overs queued before the barrier

    async def _drain(self, writer: asyncio.Task[None]) -> None:
        self.buffer.close()
        try:
            await asyncio.wait_for(writer, self.config.stop_timeout_seconds)
        except TimeoutError:
            self._dropped(len(self.buffer), why="the stop timeout passed before they were stored")

    async def _write(self) -> None:
        while not (self.buffer.closed and len(self.buffer) == 0):
            await self.buffer.wait(
                count=self.config.flush_ticks, max_wait=self.config.flush_seconds
            )
            batch = self.buffer.take(self.config.flush_ticks)
            if batch:
                await self._store(batch)
            self.buffer.done()

    async def _store(self, batch: list[Tick]) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await sync_to_async(self._insert, thread_sensitive=False, executor=self._executor)(
                    batch
                )
            except Exception as exc:
                if not database_unavailable(exc):
                    self.counters.failed += len(batch)
                    logger.exception("Ingestion refused a batch of %d ticks", len(batch))
                    return
                self._unavailable(exc)
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if self.database != "ok":
                logger.warning("The database is back; storing %d buffered ticks", len(self.buffer))
                self.database = "ok"
            return

    def _insert(self, batch: list[Tick]) -> None:
        """Runs in the writer thread: insert the new ticks, then run the after-store hooks.

        The hooks hear of each tick once, when it is first stored, so a signal closes exactly
        once at the first tick that reaches its target or stop loss.
        """
        try:
            ticks, instruments, unlisted = self._storable(batch)
            stored = storage.ticks_insert_new(ticks=ticks, instruments=instruments)
        except DatabaseError:
            # Drop the broken connection so the next attempt opens a fresh one.
            _connection_close()
            raise
        self.counters.stored += len(stored)
        self.counters.duplicates += len(batch) - unlisted - len(stored)
        if unlisted:
            rejected = self.counters.rejected
            rejected["unknown_token"] = rejected.get("unknown_token", 0) + unlisted
        if stored:
            after_store_run(ticks=stored)

    def _storable(self, batch: list[Tick]) -> tuple[list[Tick], dict[str, Instrument], int]:
        """The batch's ticks once each (several gate batches meet here), in time order, with
        their instruments; tokens the gate took on trust are checked against the master."""
        unique = {(tick.symbol, tick.received_at): tick for tick in reversed(batch)}
        ticks = sorted(unique.values(), key=lambda tick: tick.received_at)
        tokens = {tick.token for tick in ticks}
        instruments = {t: i for t in tokens if (i := self.gate.instruments.get(t)) is not None}
        unchecked = tokens & self.gate.provisional
        if not unchecked:
            return ticks, instruments, 0
        master = instruments_by_token(tokens=unchecked)
        instruments.update(master)
        listed = [
            tick
            for tick in ticks
            if tick.token not in unchecked
            or (tick.token in master and master[tick.token].symbol == tick.symbol)
        ]
        return listed, instruments, len(ticks) - len(listed)

    def _publish(self, ticks: list[Tick]) -> None:
        if not ticks:
            return
        try:
            ticks_publish(ticks=ticks)
        except Exception:  # storage goes on; a push failure must not stop the feed
            self.counters.publish_errors += 1
            logger.exception("Publishing %d ticks to the live push failed", len(ticks))

    def _unavailable(self, exc: BaseException) -> None:
        if self.database == "ok":
            logger.warning(
                "The database is unavailable (%s); keeping up to %d ticks and retrying",
                exc,
                self.config.buffer_max_ticks,
            )
        self.database = "unavailable"

    def _dropped(self, count: int, *, why: str) -> None:
        if count <= 0:
            return
        self.counters.dropped += count
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_EVERY_SECONDS or self.buffer.closed:
            self._last_drop_log = now
            logger.error(
                "Dropped %d ticks because %s (%d dropped since start)",
                count,
                why,
                self.counters.dropped,
            )

    async def _beat(self, stop: asyncio.Event) -> None:
        while True:
            await self._heartbeat_write()
            if await self._beat_call(heartbeat.stop_requested):
                logger.info("A stop was requested; stopping the feed")
                stop.set()
            await asyncio.sleep(self.config.heartbeat_seconds)

    async def _heartbeat_write(self) -> None:
        await self._beat_call(heartbeat.heartbeat_write, beat=self.snapshot())

    async def _beat_call(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        return await sync_to_async(function, thread_sensitive=False, executor=self._beat_executor)(
            **kwargs
        )

    async def _close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        await self._heartbeat_write()
        for executor in (self._executor, self._live_executor):
            await sync_to_async(_connection_close, thread_sensitive=False, executor=executor)()
        self._executor.shutdown(wait=False)
        self._live_executor.shutdown(wait=False)
        self._beat_executor.shutdown(wait=False)

    def state(self) -> str:
        if self.stopped:
            return "stopped"
        return getattr(self.source, "state", None) or (
            "streaming" if self.counters.received else "connecting"
        )

    def snapshot(self) -> dict[str, Any]:
        """The heartbeat document."""
        counters = asdict(self.counters)
        return {
            "source": self.source.name,
            "state": self.state(),
            "database": self.database,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": self.started_at,
            **counters,
            "rejected_total": sum(self.counters.rejected.values()),
            "buffered": len(self.buffer),
            "buffer_max_ticks": self.config.buffer_max_ticks,
            "source_stats": dict(self.source.stats),
        }
