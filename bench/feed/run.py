"""The feed pipeline: binary frames -> parser -> validation and storage -> channel layer (Redis).

    .venv/bin/python bench/feed/run.py [--ticks 120000]

For SQLite (a fresh file database) and PostgreSQL (a throw-away `test_` database next to
BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/trading_signals), each in its
own process, it prints ticks/s for each stage alone and for the whole pipeline:
- parse: Angel One QUOTE frames -> normalized ticks (`FrameParser.parse`);
- ingest: `tick_ingest` in batches of FEED_FLUSH_TICKS (validation, grading, storage);
- store: the storage path alone, as the feed's writer runs it: `storage.ticks_insert_new` on
  batches the live gate admitted (FEED_FLUSH_TICKS each, sorted by time);
- raw: the probe the store is compared with, batch by batch in turn with it (the same table,
  the same load on the machine): each batch's rows as the store wrote them, read back as the
  driver returns them (so prepared beforehand) and moved an hour later (the same ticks, new
  to the unique index), inserted by one `executemany` in one transaction. Printed: the store's
  rate over the probe's (target >= 0.5);
- publish: `ticks_publish` to the channel layer on Redis (BENCH_REDIS_URL, else REDIS_URL,
  else redis://127.0.0.1:6379/0);
- pipeline: `FeedPipeline` with the default FEED_* settings, from frames to published ticks,
  fed as fast as it drains (the source waits while more than a flush's worth is buffered,
  so the figure is the sustained rate with nothing dropped).
Targets: the pipeline at >= 20,000 ticks/s and the store at >= 0.5x the raw probe, on both
backends.
"""

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import bench_database, index_tokens, per_backend_main, setup_django

SESSION_OPEN_MS = 1_736_135_100_000  # 2025-01-06 09:15 IST, a trading Monday
TARGET = 20_000
STORE_RATIO_TARGET = 0.5
RAW_OFFSET = timedelta(hours=1)  # the raw probe's copy of a batch: the same ticks an hour later


def _frames(count: int, first: int) -> list[bytes]:
    """QUOTE frames for the six indices in turn, 1 ms apart, after `first` earlier ones."""
    import random

    from marketdata.feed.angelone.frames import QUOTE
    from marketdata.tests.feed.angelone.angelone_peer import random_frame

    rng = random.Random(first)
    tokens = list(index_tokens().values())
    return [
        random_frame(
            rng,
            mode=QUOTE,
            token=tokens[n % 6][0],
            exchange_type=tokens[n % 6][1],
            sequence=n,
            at_ms=SESSION_OPEN_MS + n // 6 * 6 + n % 6,
        )
        for n in range(first, first + count)
    ]


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"  {label:<9} {count:>8,} ticks in {seconds:6.2f} s = {count / seconds:>10,.0f} ticks/s")


def _timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


class _FrameSource:
    """Parses frames in batches like the Angel One source, as fast as the pipeline drains."""

    name = "bench"

    def __init__(self, frames: list[bytes], parser, in_flight: Callable[[], int]) -> None:
        self.frames, self.parser, self.in_flight = frames, parser, in_flight
        self.stats: dict[str, int] = {}

    async def ticks(self) -> AsyncIterator[list]:
        from django.conf import settings

        # Keep the next flush's worth parsed while one is stored: the writer never waits on
        # this source, and the buffer never reaches its bound (nothing is dropped). Counted
        # from the reader on: batches the live thread has not handed over yet are in flight too.
        for start in range(0, len(self.frames), 200):
            while self.in_flight() > 2 * settings.FEED_FLUSH_TICKS:
                await asyncio.sleep(0.001)
            yield [self.parser.parse(frame) for frame in self.frames[start : start + 200]]
        await asyncio.Event().wait()


def _pipeline_run(frames: list[bytes], parser) -> tuple[float, float, object]:
    """(seconds, CPU seconds of this process, counters) until every tick is stored."""
    from marketdata.feed.pipeline import FeedPipeline, PipelineSettings

    pipeline = FeedPipeline(source=None, config=PipelineSettings.from_settings())  # type: ignore[arg-type]
    counters = pipeline.counters
    pipeline.source = _FrameSource(
        frames, parser, lambda: counters.received - counters.stored - counters.duplicates
    )

    async def main() -> tuple[float, float]:
        stop = asyncio.Event()
        started, cpu = time.perf_counter(), time.process_time()
        run = asyncio.create_task(pipeline.run(stop=stop))
        while counters.stored + counters.duplicates < len(frames):
            if run.done() or counters.dropped or counters.failed:
                break
            await asyncio.sleep(0.005)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        stop.set()
        await run
        return elapsed, cpu

    elapsed, cpu = asyncio.run(main())
    return elapsed, cpu, pipeline.counters


def _gated_batches(ticks: list, size: int) -> list[tuple[list, dict]]:
    """What the feed's writer passes to `storage.ticks_insert_new`: batches of `size` ticks the
    live gate admitted, each sorted by time, with the instruments of the batch's tokens."""
    from marketdata.feed.gate import LiveGate

    gate = LiveGate()
    batches = []
    for start in range(0, len(ticks), size):
        admitted = gate.admit(ticks[start : start + size]).store
        admitted.sort(key=lambda tick: tick.received_at)
        tokens = {tick.token for tick in admitted}
        batches.append((admitted, {token: gate.instruments[token] for token in tokens}))
    return batches


def _raw_sql(vendor: str) -> tuple[str, str]:
    """The probe's SELECT of stored rows (values as the driver returns and takes them) and its
    plain INSERT, in `storage.COLUMNS` order."""
    from django.db.models import JSONField

    from marketdata.models import MarketData
    from marketdata.storage import COLUMNS

    json_columns = {f.column for f in MarketData._meta.concrete_fields if isinstance(f, JSONField)}
    selected, values = [], []
    for column in COLUMNS:
        if vendor == "sqlite":
            # SQLite keeps datetimes as text: read the text, not Django's datetime converter.
            selected.append(f"CAST({column} AS TEXT)" if column == "received_at" else column)
            values.append("?")
        else:
            selected.append(f"{column}::text" if column in json_columns else column)
            values.append("%s::jsonb" if column in json_columns else "%s")
    select = (
        f"SELECT {', '.join(selected)} FROM market_data "  # noqa: S608 - constant names
        "WHERE received_at >= %s AND received_at <= %s ORDER BY received_at, symbol"
    )
    insert = f"INSERT INTO market_data ({', '.join(COLUMNS)}) VALUES ({', '.join(values)})"  # noqa: S608
    return select, insert


def _store_and_raw(ticks: list, size: int) -> tuple[int, float, float]:
    """The storage path and the raw probe, batch by batch in turn, so that both meet the same
    table and the same load on the machine: (ticks, seconds of the store, seconds of the raw).

    Each batch is stored by `storage.ticks_insert_new`, its rows read back as the driver
    returns them, moved RAW_OFFSET later (a copy of the same ticks, new to the unique index),
    then inserted by one `executemany` in one transaction. Only the two inserts are timed.
    """
    from django.db import connection, transaction

    from marketdata import storage
    from marketdata.storage import COLUMNS

    batches = _gated_batches(ticks, size)
    select, insert = _raw_sql(connection.vendor)
    at = COLUMNS.index("received_at")
    sqlite = connection.vendor == "sqlite"

    def bound(moment: datetime) -> object:  # SQLite compares the stored text
        return str(moment.astimezone(UTC).replace(tzinfo=None)) if sqlite else moment

    def later(value: object) -> object:
        if sqlite:
            return str(datetime.fromisoformat(str(value)) + RAW_OFFSET)
        return value + RAW_OFFSET  # type: ignore[operator]

    count, store_seconds, raw_seconds = 0, 0.0, 0.0
    for batch, instruments in batches:
        started = time.perf_counter()
        stored = storage.ticks_insert_new(ticks=batch, instruments=instruments)
        store_seconds += time.perf_counter() - started
        assert len(stored) == len(batch), f"only {len(stored)} of {len(batch)} stored"
        with connection.cursor() as cursor:
            cursor.execute(select, [bound(batch[0].received_at), bound(batch[-1].received_at)])
            rows = [(*row[:at], later(row[at]), *row[at + 1 :]) for row in cursor.fetchall()]
        assert len(rows) == len(batch), f"read back {len(rows)} of {len(batch)}"
        started = time.perf_counter()
        with transaction.atomic():
            if sqlite:
                connection.connection.executemany(insert, rows)
            else:
                import psycopg

                with psycopg.Cursor(connection.connection) as cursor:
                    cursor.executemany(insert, rows)
        raw_seconds += time.perf_counter() - started
        count += len(batch)
    return count, store_seconds, raw_seconds


def measure(backend: str, args: argparse.Namespace) -> None:
    setup_django()
    from django.conf import settings

    from marketdata.feed.angelone.frames import FrameParser
    from marketdata.live.publish import ticks_publish
    from marketdata.models import Instrument
    from marketdata.services import tick_ingest

    count = args.ticks
    with bench_database(backend):
        parser = FrameParser(instruments=list(Instrument.objects.filter(subscribed=True)))
        frames = _frames(count, first=0)
        ticks: list = []
        print(f"{backend} (batches of {settings.FEED_FLUSH_TICKS}, {count:,} ticks per stage)")
        _rate("parse", count, _timed(lambda: ticks.extend(map(parser.parse, frames))))
        batch = settings.FEED_FLUSH_TICKS
        batches = [ticks[i : i + batch] for i in range(0, count, batch)]
        stored = []
        _rate("ingest", count, _timed(lambda: [stored.extend(tick_ingest(ticks=b).stored) for b in batches]))  # fmt: skip
        assert len(stored) == count, f"only {len(stored)} of {count} stored"
        stored_count, store_seconds, raw_seconds = _store_and_raw(
            list(map(parser.parse, _frames(count, first=2 * count))), batch
        )
        _rate("store", stored_count, store_seconds)
        _rate("raw", stored_count, raw_seconds)
        ratio = raw_seconds / store_seconds
        verdict = "meets" if ratio >= STORE_RATIO_TARGET else "MISSES"
        print(
            f"  store / raw = {ratio:.2f}: {verdict} the >= {STORE_RATIO_TARGET:g} target "
            "(storage.ticks_insert_new vs executemany of prepared rows)"
        )
        _rate("publish", count, _timed(lambda: [ticks_publish(ticks=b) for b in batches]))
        elapsed, cpu, counters = _pipeline_run(_frames(count, first=count), parser)
        _rate("pipeline", counters.stored, elapsed)
        print(
            f"  pipeline CPU time (all threads) {cpu / counters.stored * 1e6:.0f} us per tick, "
            f"{cpu / elapsed:.0%} of one core"
        )
        complete = counters.stored + counters.duplicates == count and not counters.dropped
        verdict = "meets" if complete and counters.stored / elapsed >= TARGET else "MISSES"
        print(
            f"  pipeline {verdict} the {TARGET:,} ticks/s target; dropped {counters.dropped}, "
            f"duplicates {counters.duplicates}, publish errors {counters.publish_errors}"
        )


def main() -> None:
    redis_url = (
        os.environ.get("BENCH_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )
    per_backend_main(
        __file__,
        __doc__,
        measure,
        options=[("--ticks", {"type": int, "default": 120_000})],
        env={"REDIS_URL": redis_url},
    )


if __name__ == "__main__":
    main()
