"""The feed options shared by `manage.py run_feed` and `manage.py serve`, and the run itself."""

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

import redis
from django.core.management import CommandError
from django.db import DatabaseError

from marketdata.demand import Demand, demand_read
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
        help="Comma-separated symbols to stream, a fixed set, e.g. NIFTY,BANKNIFTY. "
        "Default: follow the demand at runtime (subscribed instruments, active signals' "
        "options, what /ws clients subscribe to; see docs/feed.md).",
    )
    feed.add_argument(
        "--mode",
        choices=MODES,
        default="quote",
        help="Angel One subscription mode: ltp (price only), quote (adds OHLC, volume; the "
        "default) or snap_quote (adds best-five depth and circuit limits). Following the "
        "demand, an instrument someone asks for in a higher mode is streamed in that one.",
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
        "--interval",
        type=_positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help="simulated: seconds between two ticks of each instrument (default 1; "
        "make prod-check uses 0.05 to see a stall of the server in the gaps between ticks).",
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


def _positive_seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"a number of seconds above 0, not {raw!r}")
    return seconds


def _symbol_list(raw: str) -> list[str]:
    symbols = [symbol.strip().upper() for symbol in raw.split(",") if symbol.strip()]
    if not symbols:
        raise argparse.ArgumentTypeError("give at least one symbol, e.g. NIFTY,BANKNIFTY")
    return symbols


def feed_instruments(*, symbols: list[str] | None) -> list[Instrument]:
    """The instruments to stream: the named ones, or those in demand now."""
    if not symbols:
        return [item.instrument for item in demand_read().instruments]
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
    """The source the options ask for. Runs the database lookups, so call it outside a loop.

    Without `--symbols` the source starts from the current demand and follows it (a feed
    the supervisor restarts starts from the demand of that moment); with `--symbols` it
    streams that fixed set.
    """
    name = options.get("source") or default_source()
    mode = options["mode"]
    symbols = options.get("symbols")
    follow = not symbols
    if name == "replay":
        path = options.get("file")
        if path is None or not path.is_file():
            raise CommandError(
                f"--file: --source replay needs an existing file (got {path}).",
                returncode=USAGE_ERROR,
            )
        wanted = symbols or _demanded_symbols(mode)
        return ReplaySource(
            path=path, speed=options["speed"], symbols=wanted, follow_demand=follow, mode=mode
        )
    if follow:
        demand = demand_read(default_mode=mode)
        instruments = [item.instrument for item in demand.instruments]
        modes = {item.symbol: item.mode for item in demand.instruments}
    else:
        instruments, modes = feed_instruments(symbols=symbols), {}
    if name == "simulated":
        return SimulatedSource(
            instruments=instruments,
            mode=mode,
            modes=modes,
            follow_demand=follow,
            interval=options["interval"],
            ignore_market_hours=options["ignore_market_hours"],
        )
    from marketdata.feed.angelone.stream import AngelOneSource

    return AngelOneSource(instruments=instruments, mode=mode, modes=modes, follow_demand=follow)


def _demanded_symbols(mode: str) -> list[str] | None:
    """A replay's first set: the demanded symbols, or None (every tick) until the demand can
    be read, so a replay started during a database outage still plays."""
    try:
        demand: Demand = demand_read(default_mode=mode)
    except (DatabaseError, redis.RedisError) as exc:
        logger.warning("The demand cannot be read (%s); replaying every symbol until it can", exc)
        return None
    return sorted(demand.symbols())


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
