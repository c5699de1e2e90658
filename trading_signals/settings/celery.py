"""Celery: the broker, the beat schedule, the feed supervisor and scheduled jobs (issue 7).

See docs/celery.md. Without REDIS_URL tasks run eagerly in-process and `manage.py serve
--supervise` runs the supervisor itself, on the same FEED_SUPERVISOR_* settings.
"""

from datetime import time

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from trading_signals.settings.environment import env, env_bool
from trading_signals.settings.storage import REDIS_URL


def _ist_time(name: str, *, default: str) -> time:
    """A wall-clock time in IST (HH:MM) from the environment; anything else stops the start-up."""
    try:
        value = time.fromisoformat(env.str(name, default=default))
    except ValueError:
        value = None
    if value is None or value.tzinfo is not None:
        raise ImproperlyConfigured(f"{name} must be an IST time such as {default}.")
    return value


CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "Asia/Kolkata"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep Django's LOGGING, with its secret redaction
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True

# false: beat does not supervise the feed, because something else runs the one feed (make prod).
FEED_SUPERVISOR_ENABLED = env_bool("FEED_SUPERVISOR_ENABLED", default=True)
# Seconds between supervisor passes; each pass starts or stops `run_feed` as the calendar says.
FEED_SUPERVISOR_INTERVAL = env.int("FEED_SUPERVISOR_INTERVAL", default=30)
# The feed is started this many minutes before the open (login and subscribe take a moment).
FEED_SUPERVISOR_PREOPEN_MINUTES = env.int("FEED_SUPERVISOR_PREOPEN_MINUTES", default=5)
# Time a freshly started feed gets to write its first heartbeat before it counts as failed.
FEED_SUPERVISOR_STARTUP_SECONDS = env.int("FEED_SUPERVISOR_STARTUP_SECONDS", default=90)
# A feed up this long clears the failure count.
FEED_SUPERVISOR_STABLE_SECONDS = env.int("FEED_SUPERVISOR_STABLE_SECONDS", default=300)
# Consecutive failed starts before the supervisor gives up until the next session.
FEED_SUPERVISOR_MAX_FAILURES = env.int("FEED_SUPERVISOR_MAX_FAILURES", default=5)
# Wait after the first failed start; doubles after each further failure, capped at 15 minutes.
FEED_SUPERVISOR_BACKOFF_SECONDS = env.int("FEED_SUPERVISOR_BACKOFF_SECONDS", default=30)
# The command the supervisor runs; empty means `<this python> manage.py run_feed`.
FEED_SUPERVISOR_COMMAND = env.str("FEED_SUPERVISOR_COMMAND", default="")
# Ticks older than this many days are deleted nightly; 0 keeps them forever.
MARKETDATA_RETENTION_DAYS = env.int("MARKETDATA_RETENTION_DAYS", default=0)
# Sync Angel One's instrument master every day (beat, or `serve --supervise` without beat) at
# this IST time, before the pre-open; false leaves it to `manage.py sync_instruments`.
INSTRUMENTS_SYNC_DAILY = env_bool("INSTRUMENTS_SYNC_DAILY", default=True)
INSTRUMENTS_SYNC_AT = _ist_time("INSTRUMENTS_SYNC_AT", default="08:30")

CELERY_BEAT_SCHEDULE = {
    "feed-supervise": {
        "task": "marketdata.tasks.feed_supervise",
        "schedule": float(FEED_SUPERVISOR_INTERVAL),
        "options": {"expires": FEED_SUPERVISOR_INTERVAL},
    },
    "angelone-session-refresh": {
        "task": "marketdata.tasks.angelone_session_refresh",
        "schedule": crontab(minute=45, hour=8),
    },
    "ticks-backfill": {
        # The day's gaps; an outage during the session is backfilled as soon as the supervisor
        # sees the feed back. 22:45 as well, for special evening sessions.
        "task": "marketdata.tasks.ticks_backfill",
        "schedule": crontab(minute=45, hour="15,22"),
    },
    "daily-candles-build": {
        # After the last backfill run of the day; 23:00 as well, for special evening sessions.
        "task": "marketdata.tasks.daily_candles_build",
        "schedule": crontab(minute=0, hour="16,23"),
    },
    "instruments-sync": {
        "task": "marketdata.tasks.instruments_sync_daily",
        "schedule": crontab(minute=INSTRUMENTS_SYNC_AT.minute, hour=INSTRUMENTS_SYNC_AT.hour),
    },
    "ticks-purge": {
        "task": "marketdata.tasks.ticks_purge",
        "schedule": crontab(minute=30, hour=2),
    },
    "signals-expire": {"task": "signals.tasks.signals_expire", "schedule": 60.0},
    "revoked-tokens-purge": {
        "task": "accounts.tasks.revoked_tokens_purge",
        "schedule": crontab(minute=0, hour=3),
    },
}
if not FEED_SUPERVISOR_ENABLED:
    del CELERY_BEAT_SCHEDULE["feed-supervise"]
