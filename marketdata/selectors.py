"""Market data reads: latest ticks, filters, statistics and OHLC candles."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from operator import attrgetter
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from marketdata import tick_queries
from marketdata.market_calendar import (
    IST,
    calendar_exchange,
    ist_day,
    ist_day_bounds,
    market_sessions,
)
from marketdata.models import DailyCandle, Instrument, MarketData

Shown = TypeVar("Shown")


def _subscribed_symbols() -> list[str]:
    return list(
        Instrument.objects.filter(subscribed=True)
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )


# Symbols a `latest` request may name (the API answers more with a 400). Not a limit of the
# query, which takes any number: a bound on one request's work and answer.
LATEST_MAX_SYMBOLS = 200


def latest_ticks(*, symbols: Sequence[str] | None = None) -> list[MarketData]:
    """The newest stored tick of each symbol (the streamed ones by default), by symbol;
    symbols without a stored tick are left out.

    One query for any number of symbols (`tick_queries.ticks_latest`): per symbol, a backwards step
    on the unique (symbol, received_at) index, as quick for a quiet option as for a busy index.
    """
    wanted = sorted(set(symbols)) if symbols is not None else _subscribed_symbols()
    return sorted(tick_queries.ticks_latest(symbols=wanted), key=attrgetter("symbol"))


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


def symbol_ticks(
    *, symbol: str, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[MarketData]:
    """The ticks of `symbol` in [start, end); unordered (pages take them newest first).

    Bounded by the symbol's newest tick, found first through the (symbol, received_at) index.
    The bound changes no result (a tick stored in between is left out, as if the request had
    come a moment earlier), but when PostgreSQL's planner walks `received_at_-1` for a
    symbol it thinks busy, the walk starts at that tick instead of at the newest of every
    symbol (for a busy symbol with no recent tick, e.g. SENSEX while BSE is shut and NSE
    trades, that was every newer tick of every other symbol).
    """
    newest = tick_queries.ticks_latest(symbols=[symbol])
    if not newest:
        return MarketData.objects.none()
    return ticks_filter(symbols=[symbol], start=start, end=end).filter(
        received_at__lte=newest[0].received_at
    )


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


def _day_ranges(last: dict[str, datetime]) -> dict[str, tuple[date, float, float]]:
    """symbol -> (IST day of its last tick, that day's high, low): one query per distinct day
    (symbols that last traded on the same day share it), not one per symbol."""
    by_day: dict[date, list[str]] = {}
    for symbol, moment in last.items():
        by_day.setdefault(ist_day(moment), []).append(symbol)
    ranges = {}
    for day, symbols in by_day.items():
        day_start, day_end = ist_day_bounds(day)
        rows = (
            MarketData.objects.filter(
                symbol__in=symbols, received_at__gte=day_start, received_at__lt=day_end
            )
            .values("symbol")
            .annotate(high=Max("ltpc"), low=Min("ltpc"))
            .order_by()
        )
        for row in rows:
            ranges[row["symbol"]] = (day_start.date(), row["high"], row["low"])
    return ranges


def market_statistics(*, now: datetime) -> dict[str, Any]:
    """Per symbol: tick count, first/last tick time, last price, the last trading day's
    high/low and ticks by quality; totals, and the ticks stored since IST midnight of `now`.

    Three queries and one per distinct IST day of the symbols' last ticks, whatever the number
    of symbols; the counts and times come from one aggregate over every stored tick.
    """
    per_grade = MarketData.objects.values("symbol", "data_quality").annotate(
        count=Count("id"), first=Min("received_at"), last=Max("received_at")
    )
    rows: dict[str, dict[str, Any]] = {}
    totals: Counter[str] = Counter()
    for grade in per_grade.order_by():
        row = rows.setdefault(grade["symbol"], {"count": 0, "quality": {}})
        row["count"] += grade["count"]
        row["first"] = min(row.get("first", grade["first"]), grade["first"])
        row["last"] = max(row.get("last", grade["last"]), grade["last"])
        row["quality"][grade["data_quality"]] = grade["count"]
        totals[grade["data_quality"]] += grade["count"]
    symbols = sorted(rows)
    latest = {tick.symbol: tick for tick in latest_ticks(symbols=symbols)}
    days = _day_ranges({symbol: rows[symbol]["last"] for symbol in symbols})
    today_start, _ = ist_day_bounds(ist_day(now))
    return {
        "symbols": [
            {
                "symbol": symbol,
                "count": rows[symbol]["count"],
                "first_tick_at": rows[symbol]["first"],
                "last_tick_at": rows[symbol]["last"],
                "last_price": latest[symbol].ltpc,
                "day": days[symbol][0],
                "day_high": days[symbol][1],
                "day_low": days[symbol][2],
                "quality": rows[symbol]["quality"],
            }
            for symbol in symbols
        ],
        "totals": {
            "ticks": sum(totals.values()),
            "symbols": len(symbols),
            "quality": dict(totals),
            "today": MarketData.objects.filter(received_at__gte=today_start).count(),
        },
    }


def market_statistics_cached(*, now: datetime, render: Callable[[dict[str, Any]], Shown]) -> Shown:
    """`render(market_statistics(...))`, served again for MARKET_STATISTICS_CACHE_SECONDS after
    it was computed (0: never), to every user, until IST midnight.

    Its counts read every stored tick (0.5 s at a million on PostgreSQL), and the API's JSON
    form of a report on 2,000 symbols takes a few tenths of a second more to build, so the
    rendered form is kept: each database computes and renders one at most once per period.
    Kept in Django's cache (Redis when configured, shared by the processes) with the time
    the computation ended: the age is judged by this clock, not by the cache backend's, and
    a computation slower than the period still serves.
    """
    seconds = settings.MARKET_STATISTICS_CACHE_SECONDS
    if not seconds:
        return render(market_statistics(now=now))
    key = f"marketdata:statistics:{connection.vendor}:{connection.settings_dict['NAME']}"
    cached = cache.get(key)
    if cached is not None:
        computed_at, shown = cached
        if now < computed_at + timedelta(seconds=seconds) and ist_day(computed_at) == ist_day(now):
            return shown  # type: ignore[no-any-return]
    shown = render(market_statistics(now=now))
    cache.set(key, (timezone.now(), shown), timeout=seconds)
    return shown


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
    rows = tick_queries.candle_rows(symbol=symbol, step=INTERVALS[interval], start=start, end=end)
    return [Candle(datetime.fromtimestamp(bucket, tz=IST), *values) for bucket, *values in rows]


def candles_for(*, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
    """OHLC candles of `symbol` in [start, end); 1d candles as `daily_candles` reads them."""
    if interval == "1d":
        return daily_candles(symbol=symbol, start=start, end=end).candles
    return tick_candles(symbol=symbol, interval=interval, start=start, end=end)


@dataclass(frozen=True, slots=True)
class DailyCandles:
    candles: list[Candle]
    from_ticks: list[date]  # whole days of the range with ticks but no stored `DailyCandle`


def ist_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=IST)


def whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first IST day wholly in [start, end) and the day after the last one."""
    first, last = start.astimezone(IST).date(), end.astimezone(IST).date()
    return (first if ist_midnight(first) == start else first + timedelta(days=1)), last


def _symbol_exchange(symbol: str) -> str:
    exchange = Instrument.objects.filter(symbol=symbol).values_list("exchange", flat=True).first()
    return exchange or "NSE"


def _session_days(*, symbol: str, days: list[date]) -> list[date]:
    """Those of `days` on which the exchange of `symbol` holds a session."""
    if not days:
        return []
    exchange = _symbol_exchange(symbol)
    sessions = market_sessions(days=[(exchange, day) for day in days])
    return [day for day in days if sessions[(calendar_exchange(exchange), day)] is not None]


def _tick_spans(
    *, symbol: str, start: datetime, end: datetime, stored: list[date]
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) to aggregate from ticks, given the whole days stored (sorted).

    Before the first stored day and after the last (today among them), all of it. Between two
    stored days, only their session days: a weekend or holiday there costs no query. (The feed
    stores no tick outside a session, except a demo run with --ignore-market-hours, whose
    off-session days show once the after-close job has built them.)
    """
    if not stored:
        return [(start, end)]
    spans = [(start, ist_midnight(stored[0]))]
    gaps = [
        [earlier + timedelta(days=n) for n in range(1, (later - earlier).days)]
        for earlier, later in pairwise(stored)
    ]
    open_days = set(_session_days(symbol=symbol, days=[day for gap in gaps for day in gap]))
    for gap in gaps:
        trading = [day for day in gap if day in open_days]
        if trading:
            spans.append((ist_midnight(trading[0]), ist_midnight(trading[-1] + timedelta(days=1))))
    spans.append((ist_midnight(stored[-1] + timedelta(days=1)), end))
    return [(begin, finish) for begin, finish in spans if begin < finish]


def daily_candles(*, symbol: str, start: datetime, end: datetime) -> DailyCandles:
    """1d candles of `symbol` in [start, end): whole days that have a `DailyCandle` (built by
    the after-close job, or stored on demand by `ops.daily.chart_candles`) come from it, so
    ten years of them do not read every tick; the rest from the ticks (`_tick_spans`)."""
    first, after = whole_days(start, end)
    built = {
        row.date: row
        for row in DailyCandle.objects.filter(symbol=symbol, date__gte=first, date__lt=after)
    }
    candles = [
        Candle(
            ist_midnight(day), row.open, row.high, row.low, row.close, row.volume, row.tick_count
        )
        for day, row in built.items()
    ]
    from_ticks = []
    for begin, finish in _tick_spans(symbol=symbol, start=start, end=end, stored=sorted(built)):
        for candle in tick_candles(symbol=symbol, interval="1d", start=begin, end=finish):
            candles.append(candle)
            if first <= candle.time.date() < after:
                from_ticks.append(candle.time.date())
    return DailyCandles(sorted(candles, key=attrgetter("time")), from_ticks)


def minutes_without_ticks(*, symbol: str, minutes: list[datetime]) -> list[datetime]:
    """Those of `minutes` (consecutive minute starts) in which `symbol` has no stored tick."""
    if not minutes:
        return []
    candles = tick_candles(
        symbol=symbol, interval="1m", start=minutes[0], end=minutes[-1] + timedelta(minutes=1)
    )
    seen = {candle.time for candle in candles}
    return [minute for minute in minutes if minute not in seen]
