"""`manage.py run_feed`: stream ticks from a source into the store and the live push until stopped."""

import asyncio
import gc
import signal
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.feed.cli import (
    USAGE_ERROR,
    add_feed_arguments,
    feed_pipeline_build,
    feed_run,
    feed_source_build,
)
from marketdata.feed.errors import FeedConfigurationError
from marketdata.feed.pipeline import FeedPipeline

# The loop's thread reads thousands of frames a second while the live thread renders and
# publishes: with CPython's default 5 ms switch interval, each time the reader wakes it waits
# out the live thread's slice, and the process idles with ticks queued (bench/latency (b)).
SWITCH_INTERVAL_SECONDS = 0.0005


def _tune_for_latency() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    gc.freeze()  # what start-up loaded lives as long as the process: no collection walks it


class Command(BaseCommand):
    help = (
        "Stream ticks from a source into the tick store and the live push until SIGINT/SIGTERM "
        "(or --duration, or the end of a replay file), then store what is buffered and exit 0. "
        "A missing or refused credential exits 2 naming the variable to fix. Batching, "
        "buffering and the heartbeat follow the FEED_* settings (see docs/feed.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_feed_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            source = feed_source_build(options)
            pipeline = feed_pipeline_build(source=source, options=options)
            _tune_for_latency()
            asyncio.run(self._run(pipeline, duration=options["duration"]))
        except FeedConfigurationError as exc:
            raise CommandError(f"{exc.variable}: {exc.message}", returncode=USAGE_ERROR) from exc

    async def _run(self, pipeline: FeedPipeline, *, duration: float | None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await feed_run(pipeline=pipeline, stop=stop, duration=duration)
