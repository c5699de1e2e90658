"""The daily jobs: each symbol's daily candle with the day's data-quality summary, and retention.

Celery beat runs them through `marketdata/tasks.py`; each is a plain function that a test or
a shell can call directly. Without beat (`serve`, `run_feed` alone) the 1d chart stores the
closed days it had to read from ticks (`chart_candles`), so daily candles are kept in every
run mode.
"""

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count

from marketdata.market_calendar import (
    TradingSession,
    ist_day,
    ist_day_bounds,
    market_session,
    session_minutes,
)
from marketdata.models import DailyCandle, Instrument, MarketData
from marketdata.selectors import (
    INTERVALS,
    Candle,
    candles_for,
    daily_candles,
    ist_midnight,
    minutes_without_ticks,
    tick_candles,
    whole_days,
)
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

PURGE_BATCH = 5000
# Closed days a 1d chart builds at most per request (each reads its ticks a few times: about
# 0.2 s for a busy index): a store that never built its daily candles catches up over a few
# charts instead of in one very long request.
CHART_BUILDS_PER_REQUEST = 5
# How long the intraday candles of a closed day are kept in the cache once a chart read them.
CLOSED_DAY_CANDLES_SECONDS = 6 * 3600


def symbol_session(*, symbol: str, day: date) -> TradingSession | None:
    """The session of the exchange `symbol` trades on (NSE when the instrument is unknown)."""
    instrument = Instrument.objects.filter(symbol=symbol).only("exchange").first()
    return market_session(exchange=instrument.exchange if instrument else "NSE", day=day)


def _quality_summary(*, symbol: str, day: date, ticks: Any) -> dict[str, Any]:
    by_quality: dict[str, int] = {}
    realtime = {True: 0, False: 0}
    for row in ticks.values("data_quality", "is_realtime").annotate(count=Count("id")):
        by_quality[row["data_quality"]] = by_quality.get(row["data_quality"], 0) + row["count"]
        realtime[row["is_realtime"]] += row["count"]
    summary: dict[str, Any] = {
        "by_quality": dict(sorted(by_quality.items())),
        "realtime": realtime[True],
        "not_realtime": realtime[False],
    }
    session = symbol_session(symbol=symbol, day=day)
    if session is not None:
        minutes = session_minutes(session)
        missing = minutes_without_ticks(symbol=symbol, minutes=minutes)
        summary.update(session_minutes=len(minutes), missing_minutes=len(missing))
    return summary


def daily_candle_build(*, symbol: str, day: date) -> bool:
    """Build (or rebuild) the daily candle of `symbol` for one IST day; False without ticks."""
    start, end = ist_day_bounds(day)
    candles = tick_candles(symbol=symbol, interval="1d", start=start, end=end)
    if not candles:
        return False
    candle = candles[0]
    ticks = MarketData.objects.filter(symbol=symbol, received_at__gte=start, received_at__lt=end)
    first = ticks.order_by("received_at").values_list("received_at", flat=True).first()
    last = ticks.order_by("-received_at").values_list("received_at", flat=True).first()
    DailyCandle.objects.update_or_create(
        symbol=symbol,
        date=day,
        defaults={
            "open": candle.open,
            "high": candle.high,
            "low": candle.low,
            "close": candle.close,
            "volume": candle.volume,
            "tick_count": candle.ticks,
            "first_tick_at": first,
            "last_tick_at": last,
            "quality": _quality_summary(symbol=symbol, day=day, ticks=ticks),
        },
    )
    return True


def daily_candles_build(*, day: date) -> int:
    """Build (or rebuild) each symbol's candle and quality summary for one IST day."""
    start, end = ist_day_bounds(day)
    symbols = (
        MarketData.objects.filter(received_at__gte=start, received_at__lt=end)
        .values("symbol")
        .annotate(count=Count("id"))
        .values_list("symbol", flat=True)
    )
    built = sum(daily_candle_build(symbol=symbol, day=day) for symbol in sorted(symbols))
    logger.info("Built %d daily candle(s) for %s", built, day)
    return built


def daily_candles_refresh(*, ticks: Iterable[Tick]) -> int:
    """Rebuild the daily candles already built for the days of `ticks` (stored late, by a
    backfill), and forget those days' kept intraday candles, so a chart never shows a day
    without them; returns how many daily candles were rebuilt."""
    days = sorted({(tick.symbol, ist_day(tick.received_at)) for tick in ticks})
    cache.delete_many(
        [_day_key(symbol, interval, day) for symbol, day in days for interval in INTERVALS]
    )
    return sum(
        daily_candle_build(symbol=symbol, day=day)
        for symbol, day in days
        if DailyCandle.objects.filter(symbol=symbol, date=day).exists()
    )


def _day_key(symbol: str, interval: str, day: date) -> str:
    database = f"{connection.vendor}:{connection.settings_dict['NAME']}"
    return f"marketdata:candles:{database}:{symbol}:{interval}:{day.isoformat()}"


def _intraday_candles(
    *, symbol: str, interval: str, start: datetime, end: datetime, today: date
) -> list[Candle]:
    """Candles shorter than a day. Those of each closed IST day wholly in the range are kept
    in the cache for CLOSED_DAY_CANDLES_SECONDS once read: a closed day's ticks change only
    by a backfill, which forgets them (`daily_candles_refresh`). So a long chart reads from
    ticks only today and the days not asked for lately (a bucket never spans an IST
    midnight: every interval divides a day)."""
    first, after = whole_days(start, end)
    days = [first + timedelta(days=n) for n in range(max(0, (min(after, today) - first).days))]
    if not days:
        return candles_for(symbol=symbol, interval=interval, start=start, end=end)
    keys = {day: _day_key(symbol, interval, day) for day in days}
    kept = cache.get_many(list(keys.values()))
    missing = [day for day in days if keys[day] not in kept]
    spans = [(start, ist_midnight(first)), (ist_midnight(days[-1] + timedelta(days=1)), end)]
    for run_first, run_after in _runs(missing):  # consecutive days: one statement
        spans.append((ist_midnight(run_first), ist_midnight(run_after)))
    read = [
        candle
        for begin, finish in spans
        if begin < finish
        for candle in candles_for(symbol=symbol, interval=interval, start=begin, end=finish)
    ]
    by_day: dict[date, list[Candle]] = {day: [] for day in missing}
    for candle in read:
        by_day.setdefault(candle.time.date(), []).append(candle)
    cache.set_many({keys[day]: by_day[day] for day in missing}, timeout=CLOSED_DAY_CANDLES_SECONDS)
    candles = read + [candle for day in days if keys[day] in kept for candle in kept[keys[day]]]
    return sorted(candles, key=attrgetter("time"))


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive ones: (first, the day after the last)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


def chart_candles(
    *, symbol: str, interval: str, start: datetime, end: datetime, today: date
) -> list[Candle]:
    """A chart's candles (`selectors.candles_for`, the same candles). Shorter than a day: each
    closed day's are kept for a while (`_intraday_candles`). 1d: each closed day (before
    `today`) that had to be read from ticks, having no daily candle yet, is built now, so
    the next chart reads it: whether or not Celery beat runs the after-close job."""
    if interval != "1d":
        return _intraday_candles(
            symbol=symbol, interval=interval, start=start, end=end, today=today
        )
    chart = daily_candles(symbol=symbol, start=start, end=end)
    closed = [day for day in chart.from_ticks if day < today]
    for day in closed[:CHART_BUILDS_PER_REQUEST]:
        daily_candle_build(symbol=symbol, day=day)
    return chart.candles


def ticks_purge(*, now: datetime, keep_days: int) -> int:
    """Delete ticks older than `keep_days` days (0 keeps them all), oldest first, in batches.

    Batches keep each delete short, so the feed's inserts are not held up behind one huge
    statement (or one huge MongoDB delete).
    """
    if keep_days <= 0:
        return 0
    old = MarketData.objects.filter(received_at__lt=now - timedelta(days=keep_days))
    deleted = 0
    while batch := list(old.order_by("received_at").values_list("pk", flat=True)[:PURGE_BATCH]):
        deleted += MarketData.objects.filter(pk__in=batch).delete()[0]
    logger.info("Deleted %d tick(s) older than %d days", deleted, keep_days)
    return deleted
