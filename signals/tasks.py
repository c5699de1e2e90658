"""Celery tasks of signals: closing expired signals."""

from datetime import UTC, datetime

from celery import shared_task

from signals.services import signals_expire as expire


@shared_task(time_limit=60)
def signals_expire(now: str | None = None) -> int:
    """Close ACTIVE signals past their expiry as EXPIRED."""
    return expire(now=datetime.fromisoformat(now) if now else datetime.now(tz=UTC))
