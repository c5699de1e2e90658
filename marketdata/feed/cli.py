"""The feed options shared by `manage.py run_feed` and `manage.py serve`, and the run itself."""

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from django.core.management import CommandError

from marketdata.feed.angelone.session import angelone_configured
from marketdata.feed.base import TickSource
from marketdata.feed.pipeline import FeedCounters, FeedPipeline, PipelineSettings
from marketdata.feed.recorder import TickRecorder
from marketdata.feed.replay import ReplaySource
from marketdata.feed.simulated import SimulatedSource
from marketdata.models import Instrument

logger = logging.getLogger(__name__)

SOURCES = ("angelone", "replay", "simulated")
MODES = ("ltp", "quote", "snap_quote")
USAGE_ERROR = 2


def add_feed_arguments(parser: argparse.ArgumentParser) -> None:
    feed = parser.add_argument_group("feed")
    feed.add_argument(
        "--source",
        choices=SOURCES,
        help="Where ticks come from. Default: angelone when any ANGEL_ONE_* credential is "
        "set, else simulated. replay needs --file.",
    )
    feed.add_argument(
        "--symbols",
        type=_symbol_list,
        help="Comma-separated symbols to stream, e.g. NIFTY,BANKNIFTY. "
        "Default: every subscribed instrument (the six indices).",
    )
    feed.add_argument(
        "--mode",
        choices=MODES,
        default="quote",
        help="Angel One subscription mode: ltp (price only), quote (adds OHLC, volume; the "
        "default) or snap_quote (adds best-five depth and circuit limits).",
    )
    feed.add_argument("--file", type=Path, help="replay: the JSON Lines or CSV file to replay.")
    feed.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay: 1 keeps the recorded pace (default), 10 is ten times faster, "
        "0 is as fast as possible.",
    )
    feed.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="Append every tick received to FILE (.csv for CSV, else JSON Lines), "
        "in the format --source replay reads.",
    )
    feed.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="Stop by itself after SECONDS (flushing like on SIGTERM). Default: run until stopped.",
    )
    feed.add_argument(
        "--ignore-market-hours",
        action="store_true",
        help="simulated and replay: produce and store ticks outside market hours (demos). "
        "Ignored for angelone, which stores only what the exchange session allows.",
    )


def _symbol_list(raw: str) -> list[str]:
    symbols = [symbol.strip().upper() for symbol in raw.split(",") if symbol.strip()]
    if not symbols:
        raise argparse.ArgumentTypeError("give at least one symbol, e.g. NIFTY,BANKNIFTY")
    return symbols


def feed_instruments(*, symbols: list[str] | None) -> list[Instrument]:
    """The instruments to stream: the named ones, or every subscribed one."""
    if not symbols:
        return list(Instrument.objects.filter(subscribed=True).order_by("symbol"))
    found = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    unknown = [symbol for symbol in symbols if symbol not in found]
    if unknown:
        raise CommandError(
            f"--symbols: unknown symbol(s) {', '.join(unknown)}; known instruments are listed "
            "at /api/v1/market-data/symbols.",
            returncode=USAGE_ERROR,
        )
    return [found[symbol] for symbol in symbols]


def default_source() -> str:
    return "angelone" if angelone_configured() else "simulated"


def feed_source_build(options: dict[str, Any]) -> TickSource:
    """The source the options ask for. Runs the database lookups, so call it outside a loop."""
    name = options.get("source") or default_source()
    if name == "replay":
        path = options.get("file")
        if path is None or not path.is_file():
            raise CommandError(
                f"--file: --source replay needs an existing file (got {path}).",
                returncode=USAGE_ERROR,
            )
        return ReplaySource(path=path, speed=options["speed"])
    instruments = feed_instruments(symbols=options.get("symbols"))
    if name == "simulated":
        return SimulatedSource(
            instruments=instruments,
            mode=options["mode"],
            ignore_market_hours=options["ignore_market_hours"],
        )
    from marketdata.feed.angelone.stream import AngelOneSource

    return AngelOneSource(instruments=instruments, mode=options["mode"])


def feed_pipeline_build(*, source: TickSource, options: dict[str, Any]) -> FeedPipeline:
    ignore_hours = options["ignore_market_hours"] and source.name != "angelone"
    if options["ignore_market_hours"] and not ignore_hours:
        logger.warning("--ignore-market-hours does not apply to the angelone source; ignored")
    record = options.get("record")
    return FeedPipeline(
        source=source,
        config=PipelineSettings.from_settings(enforce_market_hours=not ignore_hours),
        recorder=TickRecorder(record) if record else None,
    )


async def feed_run(
    *, pipeline: FeedPipeline, stop: asyncio.Event, duration: float | None
) -> FeedCounters:
    """Run the pipeline until `stop`, the end of the source or `duration` seconds."""
    timer = asyncio.get_running_loop().call_later(duration, stop.set) if duration else None
    logger.info("Feed starting: source %s", pipeline.source.name)
    try:
        counters = await pipeline.run(stop=stop)
    finally:
        if timer is not None:
            timer.cancel()
    logger.info(
        "Feed stopped: %d received, %d stored, %d duplicates, %d after hours, %d rejected, "
        "%d dropped",
        counters.received,
        counters.stored,
        counters.duplicates,
        counters.after_hours,
        sum(counters.rejected.values()),
        counters.dropped,
    )
    return counters
