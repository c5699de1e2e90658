"""`/health`: the state of each dependency the service needs (database, Redis, feed, supervisor),
and what the feed is asked to stream (`feed_demand`: informative, never unhealthy)."""

import logging
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from marketdata.demand import demand_health
from marketdata.feed.heartbeat import heartbeat_health
from marketdata.ops.supervisor import supervisor_health

logger = logging.getLogger(__name__)


def _database_state() -> str:
    try:
        connection.ensure_connection()
        if not settings.USES_MONGODB:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        else:
            connection.connection.admin.command("ping")
    except Exception:
        logger.exception("Database health check failed")
        return "down"
    return "ok"


def _redis_state() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        logger.exception("Redis health check failed")
        return "down"
    return "ok"


def health_report() -> dict[str, Any]:
    """The state of each dependency; `healthy` is false when any configured one is down."""
    checks = {
        "database": _database_state(),
        "redis": _redis_state(),
        "feed": heartbeat_health(now=datetime.now(tz=UTC)),
        "feed_supervisor": supervisor_health(),
        "feed_demand": demand_health(),
    }
    return {"healthy": "down" not in checks.values(), "checks": checks}
