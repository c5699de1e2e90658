"""The feed pipeline: binary frames -> parser -> validation and storage -> channel layer (Redis).

    .venv/bin/python bench/feed/run.py [--ticks 120000]

For SQLite (a fresh file database) and PostgreSQL (a throw-away `test_` database next to
BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/trading_signals), each in its
own process, it prints ticks/s for each stage alone and for the whole pipeline:
- parse: Angel One QUOTE frames -> normalized ticks (`FrameParser.parse`);
- ingest: `tick_ingest` in batches of FEED_FLUSH_TICKS (validation, grading, storage);
- publish: `ticks_publish` to the channel layer on Redis (BENCH_REDIS_URL, else REDIS_URL,
  else redis://127.0.0.1:6379/0);
- pipeline: `FeedPipeline` with the default FEED_* settings, from frames to published ticks,
  fed as fast as it drains (the source waits while more than a flush's worth is buffered,
  so the figure is the sustained rate with nothing dropped).
Target: the pipeline at >= 20,000 ticks/s on both backends.
"""

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import bench_database, index_tokens, per_backend_main, setup_django

SESSION_OPEN_MS = 1_736_135_100_000  # 2025-01-06 09:15 IST, a trading Monday
TARGET = 20_000


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

    def __init__(self, frames: list[bytes], parser, pipeline_buffer: Callable[[], int]) -> None:
        self.frames, self.parser, self.buffered = frames, parser, pipeline_buffer
        self.stats: dict[str, int] = {}

    async def ticks(self) -> AsyncIterator[list]:
        from django.conf import settings

        # Keep the next flush's worth parsed while one is stored: the writer never waits on
        # this source, and the buffer never reaches its bound (nothing is dropped).
        for start in range(0, len(self.frames), 200):
            while self.buffered() > 2 * settings.FEED_FLUSH_TICKS:
                await asyncio.sleep(0.001)
            yield [self.parser.parse(frame) for frame in self.frames[start : start + 200]]
        await asyncio.Event().wait()


def _pipeline_run(frames: list[bytes], parser) -> tuple[float, object]:
    from marketdata.feed.pipeline import FeedPipeline, PipelineSettings

    pipeline = FeedPipeline(source=None, config=PipelineSettings.from_settings())  # type: ignore[arg-type]
    pipeline.source = _FrameSource(frames, parser, lambda: len(pipeline.buffer))

    async def main() -> float:
        stop = asyncio.Event()
        started = time.perf_counter()
        run = asyncio.create_task(pipeline.run(stop=stop))
        while pipeline.counters.stored + pipeline.counters.duplicates < len(frames):
            if run.done():
                break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        await run
        return elapsed

    return asyncio.run(main()), pipeline.counters


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
        _rate("publish", count, _timed(lambda: [ticks_publish(ticks=b) for b in batches]))
        elapsed, counters = _pipeline_run(_frames(count, first=count), parser)
        _rate("pipeline", counters.stored, elapsed)
        verdict = "meets" if counters.stored / elapsed >= TARGET else "MISSES"
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
