"""Celery tasks of accounts: the nightly purge of expired revoked-token rows."""

from datetime import UTC, datetime

from celery import shared_task

from accounts.services import revoked_tokens_purge as purge


@shared_task(time_limit=300)
def revoked_tokens_purge() -> int:
    """Revoked refresh tokens past their own expiry can no longer be replayed: drop them."""
    return purge(now=datetime.now(tz=UTC))
