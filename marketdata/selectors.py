"""Market data reads: latest ticks, filters, statistics and OHLC candles."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Count, Max, Min, QuerySet

from marketdata import storage
from marketdata.market_calendar import IST, ist_day, ist_day_bounds
from marketdata.models import DailyCandle, Instrument, MarketData


def _subscribed_symbols() -> list[str]:
    return list(
        Instrument.objects.filter(subscribed=True)
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )


def latest_ticks(*, symbols: Sequence[str] | None = None) -> list[MarketData]:
    """The newest stored tick of each symbol (the streamed ones by default), by symbol.

    One indexed lookup per symbol: a backwards step on the unique (symbol, received_at) index.
    """
    wanted = sorted(set(symbols)) if symbols is not None else _subscribed_symbols()
    latest = (
        MarketData.objects.filter(symbol=symbol).order_by("-received_at").first()
        for symbol in wanted
    )
    return [tick for tick in latest if tick is not None]


def symbol_is_known(*, symbol: str) -> bool:
    return (
        Instrument.objects.filter(symbol=symbol).exists()
        or MarketData.objects.filter(symbol=symbol).exists()
    )


def unknown_symbols(*, symbols: Sequence[str]) -> list[str]:
    known = set(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    return sorted(set(symbols) - known)


def ticks_filter(
    *,
    symbols: Sequence[str] | None = None,
    exchange: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    data_quality: str | None = None,
    is_realtime: bool | None = None,
    source: str | None = None,
) -> QuerySet[MarketData]:
    """Ticks matching every given condition (`start` inclusive, `end` exclusive); unordered."""
    conditions = {
        "symbol__in": symbols,
        "exchange": exchange,
        "received_at__gte": start,
        "received_at__lt": end,
        "ltpc__gte": min_price,
        "ltpc__lte": max_price,
        "data_quality": data_quality,
        "is_realtime": is_realtime,
        "source": source,
    }
    return MarketData.objects.filter(**{k: v for k, v in conditions.items() if v is not None})


def symbols_overview() -> list[dict[str, Any]]:
    """The streamed instruments with their last price and last update (None before any tick)."""
    instruments = Instrument.objects.filter(subscribed=True).order_by("symbol")
    latest = {tick.symbol: tick for tick in latest_ticks(symbols=[i.symbol for i in instruments])}
    return [
        {
            "symbol": instrument.symbol,
            "name": instrument.name,
            "token": instrument.token,
            "exchange": instrument.exchange,
            "exchange_type": instrument.exchange_type,
            "last_price": latest[instrument.symbol].ltpc if instrument.symbol in latest else None,
            "last_update": latest[instrument.symbol].received_at
            if instrument.symbol in latest
            else None,
        }
        for instrument in instruments
    ]


def _symbol_statistics(
    row: dict[str, Any], quality: dict[str, int], last: MarketData
) -> dict[str, Any]:
    day_start, day_end = ist_day_bounds(ist_day(last.received_at))
    day = MarketData.objects.filter(
        symbol=row["symbol"], received_at__gte=day_start, received_at__lt=day_end
    ).aggregate(high=Max("ltpc"), low=Min("ltpc"))
    return {
        "symbol": row["symbol"],
        "count": row["count"],
        "first_tick_at": row["first"],
        "last_tick_at": row["last"],
        "last_price": last.ltpc,
        "day": day_start.date(),
        "day_high": day["high"],
        "day_low": day["low"],
        "quality": quality,
    }


def market_statistics(*, now: datetime) -> dict[str, Any]:
    """Per symbol: tick count, first/last tick time, last price, the last trading day's
    high/low and ticks by quality; totals, and the ticks stored since IST midnight of `now`."""
    per_symbol = (
        MarketData.objects.values("symbol")
        .annotate(count=Count("id"), first=Min("received_at"), last=Max("received_at"))
        .order_by("symbol")
    )
    rows = list(per_symbol)
    quality: dict[str, dict[str, int]] = {row["symbol"]: {} for row in rows}
    totals: Counter[str] = Counter()
    for row in MarketData.objects.values("symbol", "data_quality").annotate(count=Count("id")):
        quality[row["symbol"]][row["data_quality"]] = row["count"]
        totals[row["data_quality"]] += row["count"]
    latest = {tick.symbol: tick for tick in latest_ticks(symbols=[row["symbol"] for row in rows])}
    today_start, _ = ist_day_bounds(ist_day(now))
    return {
        "symbols": [_symbol_statistics(r, quality[r["symbol"]], latest[r["symbol"]]) for r in rows],
        "totals": {
            "ticks": sum(row["count"] for row in rows),
            "symbols": len(rows),
            "quality": dict(totals),
            "today": MarketData.objects.filter(received_at__gte=today_start).count(),
        },
    }


# --- OHLC candles, computed by the database ---

INTERVALS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "1d": 86400}
MAX_CANDLES = 10_000  # per request; a longer range is a 400
DEFAULT_CANDLES = 375  # without `from`: one regular session of 1m candles, scaled by interval
IST_OFFSET_SECONDS = 19_800  # IST is UTC+05:30 all year (no daylight saving)


@dataclass(frozen=True, slots=True)
class Candle:
    time: datetime  # the bucket's start, IST
    open: float
    high: float
    low: float
    close: float
    volume: int | None  # growth of the cumulative day volume within the bucket
    ticks: int


def tick_candles(*, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
    """OHLC candles of `symbol` in [start, end), aggregated by the database from the ticks."""
    rows = storage.candle_rows(symbol=symbol, step=INTERVALS[interval], start=start, end=end)
    return [Candle(datetime.fromtimestamp(bucket, tz=IST), *values) for bucket, *values in rows]


def candles_for(*, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
    """OHLC candles of `symbol` in [start, end). Whole days the after-close job has built come
    from `DailyCandle` (issue 7), so a year of 1d candles does not scan every tick."""
    if interval != "1d":
        return tick_candles(symbol=symbol, interval=interval, start=start, end=end)
    built = DailyCandle.objects.filter(
        symbol=symbol, date__gte=start.astimezone(IST).date(), date__lte=end.astimezone(IST).date()
    ).order_by("date")
    candles: list[Candle] = []
    pending = start  # from here on, not covered by a built day yet
    for row in built:
        day_start = datetime.combine(row.date, time(0), tzinfo=IST)
        day_end = day_start + timedelta(days=1)
        if day_start < start or day_end > end:
            continue  # a day cut by the range: from its ticks
        if pending < day_start:
            candles += tick_candles(symbol=symbol, interval="1d", start=pending, end=day_start)
        candles.append(
            Candle(day_start, row.open, row.high, row.low, row.close, row.volume, row.tick_count)
        )
        pending = day_end
    if pending < end:
        candles += tick_candles(symbol=symbol, interval="1d", start=pending, end=end)
    return candles


def minutes_without_ticks(*, symbol: str, minutes: list[datetime]) -> list[datetime]:
    """Those of `minutes` (consecutive minute starts) in which `symbol` has no stored tick."""
    if not minutes:
        return []
    candles = tick_candles(
        symbol=symbol, interval="1m", start=minutes[0], end=minutes[-1] + timedelta(minutes=1)
    )
    seen = {candle.time for candle in candles}
    return [minute for minute in minutes if minute not in seen]
