"""Signal reads: lists, lookups for tracking, and performance figures."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    CharField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Field,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from marketdata.market_calendar import IST, option_expiry_first_live
from marketdata.models import Instrument, MarketData
from marketdata.selectors import latest_ticks
from signals.models import Signal, SignalType, Status, Underlying
from signals.pnl import UNIT_LOT, Quote

LIST_FILTERS = ("status", "symbol", "underlying", "option_type", "signal_type")


def signal_list(*, filters: Mapping[str, Any]) -> QuerySet[Signal]:
    """Signals matching the already validated `filters`, in the requested order."""
    query = Q(**{field: filters[field] for field in LIST_FILTERS if filters.get(field)})
    if filters.get("created_from"):
        query &= Q(created_at__gte=filters["created_from"])
    if filters.get("created_to"):
        query &= Q(created_at__lte=filters["created_to"])
    ordering = filters.get("ordering") or "-created_at"
    # The id tie-break keeps pages stable when timestamps or prices repeat.
    tie_break = "-id" if ordering.startswith("-") else "id"
    return Signal.objects.select_related("user").filter(query).order_by(ordering, tie_break)


def signal_get(*, pk: Any) -> Signal:
    return Signal.objects.select_related("user").get(pk=pk)


def signals_active() -> list[Signal]:
    """Every ACTIVE signal, with its author (what rendering one needs)."""
    return list(Signal.objects.select_related("user").filter(status=Status.ACTIVE))


def signals_active_for(*, symbols: Iterable[str]) -> list[Signal]:
    """ACTIVE signals on any of `symbols`. The feed asks with every stored batch, naming up
    to thousands of symbols while a few signals are active: they are matched here rather
    than sent to the database as a list of thousands."""
    wanted = set(symbols)
    return [signal for signal in signals_active() if signal.symbol in wanted]


def signal_options_demanded() -> list[str]:
    """The option contracts of ACTIVE signals, by their symbols in the master: the feed streams
    them (a demand provider, registered in apps.py). A signal whose contract the master has
    retired, or that matched none, asks for nothing."""
    contracts = set(
        Signal.objects.filter(status=Status.ACTIVE, instrument__isnull=False).values_list(
            "instrument_id", flat=True
        )
    )
    if not contracts:
        return []
    return sorted(set(Instrument.objects.filter(pk__in=contracts).values_list("symbol", flat=True)))


def signals_active_expired(*, cutoff: Mapping[str, date]) -> list[Signal]:
    return list(Signal.objects.filter(status=Status.ACTIVE, **cutoff))


def latest_quotes(*, symbols: Iterable[str]) -> dict[str, Quote]:
    """The last stored price of each option symbol, with its time (index levels are not
    option prices); one query for any number of symbols."""
    wanted = sorted(set(symbols) - set(Underlying.values))
    if not wanted:
        return {}
    return {
        tick.symbol: Quote(tick.ltpc, tick.received_at) for tick in latest_ticks(symbols=wanted)
    }


def latest_prices(*, symbols: Iterable[str]) -> dict[str, float]:
    return {symbol: quote.price for symbol, quote in latest_quotes(symbols=symbols).items()}


def signal_quotes(*, signals: Iterable[Signal]) -> dict[str, Quote]:
    """The last prices the unrealised P&L of these signals is taken at: those of the ACTIVE
    ones' options (closed signals have none), in one query."""
    return latest_quotes(symbols={s.symbol for s in signals if s.status == Status.ACTIVE})


# --- The admin's list: last prices and P&L, computed by the database (sortable) -----------


def _newest_tick(column: str) -> Subquery:
    """`column` of the newest stored tick of the signal's symbol, one step back on the unique
    (symbol, received_at) index. On PostgreSQL written as the range `x <= symbol <= x`,
    ordered by (symbol, received_at), for its planner (see marketdata.tick_queries); elsewhere
    as the equality (MongoDB uses an index for a $lookup's `$eq` on the joined field)."""
    if connection.vendor == "postgresql":
        same_symbol = Q(symbol__gte=OuterRef("symbol"), symbol__lte=OuterRef("symbol"))
    else:
        same_symbol = Q(symbol=OuterRef("symbol"))
    newest = MarketData.objects.filter(same_symbol).order_by("-symbol", "-received_at")
    return Subquery(newest.values(column)[:1])


def _when_active(value: Any, output_field: "Field[Any, Any]") -> Case:
    return Case(When(status=Status.ACTIVE, then=value), default=None, output_field=output_field)


# Whether the option of an ACTIVE signal is streaming and, when not, why (`feed_state`):
# a short name, and the reason.
FEED_STATES = {
    "streaming": ("Streaming", "its option ticked lately"),
    "no_instrument": (
        "No instrument",
        "it matched no contract (migrated), or the master retired it",
    ),
    "expired": ("Expired", "its option has expired"),
    "no_recent_tick": ("No recent tick", "not in the feed's demand, or the feed or market is shut"),
}


def _feed_states(*, now: datetime, stale_after: timedelta) -> Case:
    first_live = option_expiry_first_live(now)
    listed = Q(status=Status.ACTIVE, instrument__isnull=False)
    unexpired = listed & (Q(expiry__gte=first_live) | Q(expiry__isnull=True))
    stale = Q(last_tick_at__isnull=True) | Q(last_tick_at__lt=now - stale_after)
    conditions = {
        "no_instrument": Q(status=Status.ACTIVE, instrument__isnull=True),
        "expired": listed & Q(expiry__lt=first_live),
        "no_recent_tick": unexpired & stale,
        "streaming": unexpired & ~stale,
    }
    return Case(
        *(When(condition, then=Value(state)) for state, condition in conditions.items()),
        default=Value(""),
        output_field=CharField(),
    )


def signals_with_market(
    queryset: QuerySet[Signal], *, now: datetime, stale_after: timedelta
) -> QuerySet[Signal]:
    """ACTIVE signals annotated with their option's last stored price (`last_price`), its time
    (`last_tick_at`), the unrealised P&L there (`unrealised_points`, per unit, and
    `unrealised_rupees`, for the whole signal) and `feed_state` (a key of FEED_STATES: no tick
    within `stale_after` of `now` counts as not streaming); closed signals get nulls and ""."""
    points = Case(
        When(signal_type=SignalType.SELL, then=F("entry_price") - F("last_price")),
        default=F("last_price") - F("entry_price"),
        output_field=FloatField(),
    )
    rupees = points * F("quantity") * Coalesce(F("lot_size"), Value(UNIT_LOT))
    return queryset.annotate(
        last_price=_when_active(_newest_tick("ltpc"), FloatField()),
        last_tick_at=_when_active(_newest_tick("received_at"), DateTimeField()),
    ).annotate(
        unrealised_points=ExpressionWrapper(points, output_field=FloatField()),
        unrealised_rupees=ExpressionWrapper(rupees, output_field=FloatField()),
        feed_state=_feed_states(now=now, stale_after=stale_after),
    )


# --- Performance -------------------------------------------------------------------------

POINTS = Case(
    When(signal_type=SignalType.SELL, then=F("entry_price") - F("exit_price")),
    default=F("exit_price") - F("entry_price"),
    output_field=FloatField(),
)
# Rupees: points x quantity (lots) x lot size; a signal without a lot size counts one unit a
# lot (signals.pnl.UNIT_LOT).
RUPEES = ExpressionWrapper(
    POINTS * F("quantity") * Coalesce(F("lot_size"), Value(UNIT_LOT)), output_field=FloatField()
)
# Sums of ones, not Count(): the same numbers, but django-mongodb-backend compiles Count() to
# a `$type` null test that mongomock lacks, and these figures are checked on it (issue 15).
ONE = Value(1, output_field=IntegerField())
WIN = Case(When(result_points__gt=0, then=ONE), default=Value(0), output_field=IntegerField())
HOLDING = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
PERIODS = ("day", "week", "month")


def _closed_in(start: datetime | None, end: datetime | None) -> QuerySet[Signal]:
    closed = Signal.objects.filter(status=Status.COMPLETED, exit_price__isnull=False)
    if start:
        closed = closed.filter(closed_at__gte=start)
    if end:
        closed = closed.filter(closed_at__lte=end)
    # Not `points`: that name is Signal's property, which an annotation cannot be set on.
    return closed.annotate(result_points=POINTS, result_rupees=RUPEES, holding=HOLDING)


def _seconds(value: timedelta | float | None) -> float | None:
    # SQLite hands back the average interval as microseconds, PostgreSQL as an interval.
    if value is None:
        return None
    micros = value / timedelta(microseconds=1) if isinstance(value, timedelta) else value
    return round(micros / 1_000_000, 3)


def _figures(row: Mapping[str, Any]) -> dict[str, Any]:
    count = row["count"]
    return {
        "count": count,
        "wins": row["wins"],
        "win_rate": round(row["wins"] / count, 4) if count else None,
        "average_points": round(row["average_points"], 4),
        "total_points": round(row["total_points"], 4),
        "average_rupees": round(row["average_rupees"], 2),
        "total_rupees": round(row["total_rupees"], 2),
        "average_holding_seconds": _seconds(row["average_holding"]),
    }


def _grouped(closed: QuerySet[Signal], key: str) -> list[dict[str, Any]]:
    rows = (
        closed.values(key)
        .annotate(
            count=Sum(ONE),
            wins=Sum(WIN),
            average_points=Avg("result_points"),
            total_points=Sum("result_points"),
            average_rupees=Avg("result_rupees"),
            total_rupees=Sum("result_rupees"),
            average_holding=Avg("holding"),
        )
        .order_by(key)
    )
    return [{key: row[key], **_figures(row)} for row in rows]


def period_start(moment: datetime, period: str) -> date:
    """The first IST day of the day, week (from Monday) or month `moment` falls in."""
    day = moment.astimezone(IST).date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if period == "month" else day


def _by_period(closed: QuerySet[Signal], period: str) -> list[dict[str, Any]]:
    """Grouped here, from one narrow read: an IST day cannot be grouped alike on every store
    (MongoDB's backend refuses TruncDate in a time zone; mongomock lacks $dateTrunc), and a
    desk closes at most a few hundred signals a day."""
    groups: dict[date, list[tuple[float, float, timedelta]]] = defaultdict(list)
    # (The annotations are _closed_in's, which the Django plugin does not follow.)
    rows = closed.values_list("closed_at", "created_at", "result_points", "result_rupees")  # type: ignore[misc]
    for closed_at, created_at, points, rupees in rows:
        groups[period_start(closed_at, period)].append((points, rupees, closed_at - created_at))
    figures = []
    for first_day, signals in sorted(groups.items()):
        points, rupees, held = zip(*signals, strict=True)
        count = len(signals)
        row = {
            "count": count,
            "wins": sum(1 for gained in points if gained > 0),
            "average_points": sum(points) / count,
            "total_points": sum(points),
            "average_rupees": sum(rupees) / count,
            "total_rupees": sum(rupees),
            "average_holding": sum(held, timedelta()) / count,
        }
        figures.append({"period_start": first_day, **_figures(row)})
    return figures


def signal_performance(
    *, start: datetime | None, end: datetime | None, period: str = "day"
) -> dict[str, Any]:
    """Signals closed with an exit price in [start, end], per author, underlying, signal type
    and IST `period` of their close (day, week or month).

    Points are per unit (exit - entry for a BUY, entry - exit for a SELL); a win gained
    points; rupees are points x quantity (lots) x lot size; holding time runs from
    publication to close.
    """
    closed = _closed_in(start, end)
    by_author = _grouped(closed, "user_id")
    names = dict(
        User.objects.filter(pk__in=[row["user_id"] for row in by_author]).values_list("pk", "name")
    )
    for row in by_author:
        row["author_name"] = names.get(row["user_id"], "")
    return {
        "start": start,
        "end": end,
        "period": period,
        "by_author": by_author,
        "by_underlying": _grouped(closed, "underlying"),
        "by_signal_type": _grouped(closed, "signal_type"),
        "by_period": _by_period(closed, period),
    }
