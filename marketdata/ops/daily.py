"""The daily jobs: each symbol's daily candle with the day's data-quality summary, and retention.

Celery beat runs them through `marketdata/tasks.py`; each is a plain function that a test or
a shell can call directly.
"""

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count

from marketdata.market_calendar import (
    TradingSession,
    ist_day_bounds,
    market_session,
    session_minutes,
)
from marketdata.models import DailyCandle, Instrument, MarketData
from marketdata.selectors import minutes_without_ticks, tick_candles

logger = logging.getLogger(__name__)

PURGE_BATCH = 5000


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


def _daily_candle_build(*, symbol: str, day: date) -> bool:
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
    built = sum(_daily_candle_build(symbol=symbol, day=day) for symbol in sorted(symbols))
    logger.info("Built %d daily candle(s) for %s", built, day)
    return built


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
