"""The feed pipeline: a source's batches -> a bounded buffer -> batched ingestion -> live push.

Three tasks share one event loop:
- the reader iterates the source and appends each batch to the buffer (never waiting on the
  database, so a slow or absent database never stalls the connection to the broker);
- the writer takes up to `FEED_FLUSH_TICKS` ticks, or whatever arrived within `FEED_FLUSH_MS`,
  and in its worker thread stores them with `tick_ingest`, runs the after-store hooks (signal
  outcomes, see feed/hooks.py), then
  publishes the stored ticks to the channel layer;
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
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymongo.errors
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from marketdata.feed import heartbeat
from marketdata.feed.base import TickSource
from marketdata.feed.hooks import after_store_run
from marketdata.feed.recorder import TickRecorder
from marketdata.live.publish import ticks_publish
from marketdata.services import IngestResult, tick_ingest
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
        self.stored += len(result.stored)
        self.duplicates += result.duplicates
        self.after_hours += result.after_hours
        for reason, n in result.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n


class TickBuffer:
    """Ticks received and not yet stored, at most `limit` of them (the batch in flight included)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.closed = False
        self._ticks: deque[Tick] = deque()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._ticks) + self.in_flight

    def add(self, ticks: Sequence[Tick]) -> int:
        """Append `ticks`; return how many of the oldest waiting ticks were dropped to fit."""
        self._ticks.extend(ticks)
        overflow = min(len(self) - self.limit, len(self._ticks))
        for _ in range(max(overflow, 0)):
            self._ticks.popleft()
        self._changed.set()
        return max(overflow, 0)

    def close(self) -> None:
        """No more ticks will come: the writer drains what is left and ends."""
        self.closed = True
        self._changed.set()

    async def wait(self, *, count: int, max_wait: float) -> None:
        """Return once `count` ticks wait, `max_wait` passed since some did, or it closed."""
        loop = asyncio.get_running_loop()
        deadline = None
        while len(self._ticks) < count and not self.closed:
            if self._ticks and deadline is None:
                deadline = loop.time() + max_wait
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def take(self, count: int) -> list[Tick]:
        batch = [self._ticks.popleft() for _ in range(min(count, len(self._ticks)))]
        self.in_flight = len(batch)
        return batch

    def done(self) -> None:
        self.in_flight = 0


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
        # One thread keeps one database connection for the feed's whole life.
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
            self._dropped(self.buffer.add(batch), why="the buffer is full")

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
                result = await sync_to_async(
                    self._ingest, thread_sensitive=False, executor=self._executor
                )(batch)
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
            self.counters.count(result)
            return

    def _ingest(self, batch: list[Tick]) -> IngestResult:
        """Runs in the writer thread: store, run the after-store hooks, publish.

        Publishing here, one batch after the other, keeps each symbol's ticks in order. It
        once ran in a thread of its own, overlapping the next batch's storage: the two threads
        then fought over the GIL, and the pipeline was slower than doing both in turn.
        """
        try:
            result = tick_ingest(ticks=batch, enforce_market_hours=self.config.enforce_market_hours)
        except DatabaseError:
            # Drop the broken connection so the next attempt opens a fresh one.
            _connection_close()
            raise
        if result.stored:
            after_store_run(ticks=result.stored)
            self._publish(result.stored)
        return result

    def _publish(self, ticks: list[Tick]) -> None:
        try:
            ticks_publish(ticks=ticks)
        except Exception:  # the ticks are stored; a push failure must not stop the feed
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
        await sync_to_async(_connection_close, thread_sensitive=False, executor=self._executor)()
        self._executor.shutdown(wait=False)
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
