"""Celery tasks: thin wrappers that parse their arguments and call the services.

Times travel as ISO 8601 strings (JSON-safe); a task run by beat gets none and uses now.
"""

from dataclasses import asdict
from datetime import UTC, date, datetime

from celery import shared_task
from django.conf import settings

from marketdata.market_calendar import IST, ist_day_bounds
from marketdata.ops import backfill, daily, instrument_master, supervisor


def _moment(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else datetime.now(tz=UTC)


def _day(value: str | None) -> date:
    return date.fromisoformat(value) if value else datetime.now(tz=IST).date()


@shared_task(time_limit=60)
def feed_supervise(now: str | None = None) -> str:
    moment = _moment(now)
    decision = supervisor.feed_supervise(now=moment)
    if decision.backfill_from is not None:
        ticks_backfill.delay(start=decision.backfill_from.isoformat(), end=moment.isoformat())
    return decision.action.value


@shared_task(time_limit=120)
def angelone_session_refresh() -> bool:
    return backfill.angelone_session_refresh()


@shared_task(time_limit=1200)
def ticks_backfill(start: str | None = None, end: str | None = None) -> int:
    """Fill today's session so far (by default) from Angel One's 1-minute candles."""
    finish = _moment(end)
    begin = _moment(start) if start else ist_day_bounds(finish.astimezone(IST).date())[0]
    return backfill.ticks_backfill(start=begin, end=finish).stored


@shared_task(time_limit=600)
def daily_candles_build(day: str | None = None) -> int:
    return daily.daily_candles_build(day=_day(day))


@shared_task(time_limit=3600)
def ticks_purge(now: str | None = None) -> int:
    return daily.ticks_purge(now=_moment(now), keep_days=settings.MARKETDATA_RETENTION_DAYS)


@shared_task(time_limit=1800)
def instruments_sync_daily() -> dict[str, int] | None:
    """Angel One's instrument master from its URL; None when off or the download failed."""
    result = instrument_master.instruments_sync_daily()
    return asdict(result) if result else None
