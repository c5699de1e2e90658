"""Signal reads: lists, lookups for tracking, and performance figures."""

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Case,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from accounts.models import User
from marketdata.models import Instrument
from marketdata.selectors import latest_ticks
from signals.models import Signal, SignalType, Status, Underlying

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


def signals_active_for(*, symbols: Iterable[str]) -> list[Signal]:
    """ACTIVE signals on any of `symbols`. The feed asks with every stored batch, naming up
    to thousands of symbols while a few signals are active: they are matched here rather
    than sent to the database as a list of thousands."""
    wanted = set(symbols)
    return [
        signal for signal in Signal.objects.filter(status=Status.ACTIVE) if signal.symbol in wanted
    ]


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


def latest_prices(*, symbols: Iterable[str]) -> dict[str, float]:
    """The last stored price of each option symbol (index levels are not option prices)."""
    wanted = sorted(set(symbols) - set(Underlying.values))
    if not wanted:
        return {}
    return {tick.symbol: tick.ltpc for tick in latest_ticks(symbols=wanted)}


# --- Performance -------------------------------------------------------------------------

POINTS = Case(
    When(signal_type=SignalType.SELL, then=F("entry_price") - F("exit_price")),
    default=F("exit_price") - F("entry_price"),
    output_field=FloatField(),
)
# Sums of ones, not Count(): the same numbers, but django-mongodb-backend compiles Count() to
# a `$type` null test that mongomock lacks, and these figures are checked on it (issue 15).
ONE = Value(1, output_field=IntegerField())
WIN = Case(When(result_points__gt=0, then=ONE), default=Value(0), output_field=IntegerField())
HOLDING = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())


def _closed_in(start: datetime | None, end: datetime | None) -> QuerySet[Signal]:
    closed = Signal.objects.filter(status=Status.COMPLETED, exit_price__isnull=False)
    if start:
        closed = closed.filter(closed_at__gte=start)
    if end:
        closed = closed.filter(closed_at__lte=end)
    # Not `points`: that name is Signal's property, which an annotation cannot be set on.
    return closed.annotate(result_points=POINTS, holding=HOLDING)


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
            average_holding=Avg("holding"),
        )
        .order_by(key)
    )
    return [{key: row[key], **_figures(row)} for row in rows]


def signal_performance(*, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """Signals closed with an exit price in [start, end], per author and per underlying.

    Points are per unit (exit - entry for a BUY, entry - exit for a SELL); a win gained
    points; holding time runs from publication to close.
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
        "by_author": by_author,
        "by_underlying": _grouped(closed, "underlying"),
    }
