"""The feed's heartbeat: a small JSON document the running feed rewrites every few seconds.

Where it lives: the Redis key `feed:heartbeat` when `REDIS_URL` is set (so `/health`, the
supervisor and the feed may run in different processes or hosts), else the file
`LOG_DIR/feed-heartbeat.json` (the embedded, single-machine set-up). The same place holds
the stop request a supervisor leaves for a feed it cannot signal directly.

`updated_at` is the write time; a heartbeat older than `FEED_HEARTBEAT_STALE_SECONDS` that
does not say `"state": "stopped"` means the feed died without saying goodbye.
"""

import json
import logging
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError

from marketdata.market_calendar import market_is_open

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "feed:heartbeat"
STOP_KEY = "feed:stop-request"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _file(name: str) -> Path:
    return Path(settings.LOG_DIR) / name


def _file_write(path: Path, text: str) -> None:
    """Write by rename, so a reader never sees half a document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def heartbeat_write(*, beat: dict[str, Any]) -> None:
    """Store `beat` (JSON-serializable; datetimes become ISO strings) with `updated_at` = now."""
    text = json.dumps({**beat, "updated_at": datetime.now(tz=UTC)}, default=_json_default)
    try:
        if settings.REDIS_URL:
            _redis().set(HEARTBEAT_KEY, text)
        else:
            _file_write(_file("feed-heartbeat.json"), text)
    except (redis.RedisError, OSError) as exc:
        # The feed must outlive a Redis blip; the next beat retries.
        logger.warning("Could not write the feed heartbeat: %s", exc)


def heartbeat_read() -> dict[str, Any] | None:
    """The last heartbeat written, or None when no feed has ever written one here."""
    try:
        if settings.REDIS_URL:
            text = _redis().get(HEARTBEAT_KEY)
        else:
            text = _file("feed-heartbeat.json").read_text()
    except FileNotFoundError:
        return None
    except (redis.RedisError, OSError) as exc:
        logger.warning("Could not read the feed heartbeat: %s", exc)
        return None
    return json.loads(text) if text else None


def heartbeat_age(*, beat: dict[str, Any], now: datetime) -> timedelta:
    return now - datetime.fromisoformat(beat["updated_at"])


def heartbeat_stale(*, beat: dict[str, Any], now: datetime) -> bool:
    """True when a feed that never said it stopped has not written for too long."""
    stale_after = timedelta(seconds=settings.FEED_HEARTBEAT_STALE_SECONDS)
    return beat.get("state") != "stopped" and heartbeat_age(beat=beat, now=now) > stale_after


def heartbeat_health(*, now: datetime) -> str:
    """The feed's line in /health; only "down" makes the service unhealthy.

    "ok": a fresh heartbeat. "down": stale (the feed died) while NSE is in session.
    "idle": stale outside the session. "stopped": it stopped cleanly. "not running": no feed
    has ever written a heartbeat here (an API-only deployment is healthy without one).
    """
    beat = heartbeat_read()
    if beat is None:
        return "not running"
    if beat.get("state") == "stopped":
        return "stopped"
    if not heartbeat_stale(beat=beat, now=now):
        return "ok"
    try:
        in_session = market_is_open(exchange="NSE", at=now)
    except DatabaseError:
        return "down"  # the calendar is unreadable; the database check says why
    return "down" if in_session else "idle"


def stop_request() -> None:
    """Ask the running feed to stop gracefully (it checks at each heartbeat)."""
    if settings.REDIS_URL:
        _redis().set(STOP_KEY, datetime.now(tz=UTC).isoformat())
    else:
        _file_write(_file("feed-stop-request"), datetime.now(tz=UTC).isoformat())


def stop_requested() -> bool:
    try:
        if settings.REDIS_URL:
            return bool(_redis().exists(STOP_KEY))
        return _file("feed-stop-request").exists()
    except redis.RedisError as exc:
        logger.warning("Could not check for a feed stop request: %s", exc)
        return False


def stop_request_clear() -> None:
    """A starting feed forgets requests meant for the previous one."""
    try:
        if settings.REDIS_URL:
            _redis().delete(STOP_KEY)
        else:
            _file("feed-stop-request").unlink(missing_ok=True)
    except redis.RedisError as exc:
        logger.warning("Could not clear the feed stop request: %s", exc)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
