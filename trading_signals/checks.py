"""System checks of the configuration, run at start-up by every command that runs checks
(`check`, `migrate`, `runserver`, `serve`, `run_feed`, ...). Registered in apps.py.

marketdata.E001  a market data, feed, live push or supervisor setting is not a positive number
marketdata.E002  FEED_BUFFER_MAX_TICKS is below FEED_FLUSH_TICKS (the buffer must hold a batch)
marketdata.E003  a setting where zero is meaningful is negative (or not a number)
marketdata.W001  FEED_HEARTBEAT_STALE_SECONDS does not exceed FEED_HEARTBEAT_SECONDS
trading_signals.E001  (retired: an unknown ENVIRONMENT stops the settings from loading)
trading_signals.E002  the JWT ALGORITHM is not HS256, HS384 or HS512
trading_signals.E003  the JWT signing key is shorter than its algorithm's hash (32, 48, 64 bytes)
trading_signals.E004  MARKETDATA_RETENTION_DAYS is negative (or not a whole number)

Messages name the setting and its bad value, except for secrets, of which only the length shows.
"""

from collections.abc import Iterable
from typing import Any, TypeGuard

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning

# The HMAC algorithms, each with the shortest key RFC 7518 allows for it (its hash's size).
JWT_MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

FEED_POSITIVE = (
    "FEED_FLUSH_TICKS",
    "FEED_FLUSH_MS",
    "FEED_BUFFER_MAX_TICKS",
    "FEED_HEARTBEAT_SECONDS",
    "FEED_HEARTBEAT_STALE_SECONDS",
    "FEED_STOP_TIMEOUT_SECONDS",
)
LIVE_POSITIVE = (
    "WS_MAX_SYMBOLS",
    "WS_MAX_MESSAGE_BYTES",
    "WS_RATE_LIMIT_PER_SECOND",
    "WS_RATE_LIMIT_BURST",
    "WS_SEND_BUFFER_BYTES",
    "WS_SLOW_CLIENT_POLL_SECONDS",
    "LIVE_DEMAND_GRACE_SECONDS",
    "LIVE_DEMAND_MAX_INSTRUMENTS",
    "SIGNAL_PNL_EVENTS_PER_SECOND",
    "SIGNAL_FEED_STALE_MINUTES",
)
SUPERVISOR_POSITIVE = (
    "FEED_SUPERVISOR_INTERVAL",
    "FEED_SUPERVISOR_STARTUP_SECONDS",
    "FEED_SUPERVISOR_STABLE_SECONDS",
    "FEED_SUPERVISOR_MAX_FAILURES",
    "FEED_SUPERVISOR_BACKOFF_SECONDS",
)
MARKET_DATA_POSITIVE = ("MARKET_DATA_JUMP_PERCENT", "MARKET_DATA_STALE_SECONDS")
# Zero is meaningful here: start the feed at the open; accept no tick stamped in the future.
SUPERVISOR_NOT_NEGATIVE = ("FEED_SUPERVISOR_PREOPEN_MINUTES",)
MARKET_DATA_NOT_NEGATIVE = ("MARKET_DATA_MAX_CLOCK_SKEW_SECONDS",)


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(names: Iterable[str]) -> list[CheckMessage]:
    """marketdata.E001 for each named setting that is not a number above zero."""
    errors: list[CheckMessage] = []
    for name in names:
        value = getattr(settings, name, None)
        if not (_number(value) and value > 0):
            errors.append(
                Error(
                    f"{name} must be a positive number, not {value!r}.",
                    hint=f"Set {name} to a number above 0, or unset it for the default "
                    "(see .env.example).",
                    id="marketdata.E001",
                )
            )
    return errors


def _not_negative(names: Iterable[str]) -> list[CheckMessage]:
    """marketdata.E003 for each named setting that is not a number of zero or more."""
    errors: list[CheckMessage] = []
    for name in names:
        value = getattr(settings, name, None)
        if not (_number(value) and value >= 0):
            errors.append(
                Error(
                    f"{name} must be zero or a positive number, not {value!r}.",
                    hint=f"Set {name} to 0 or more, or unset it for the default.",
                    id="marketdata.E003",
                )
            )
    return errors


def check_feed_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The feed pipeline: positive sizes and intervals; the buffer holds at least one batch."""
    errors = _positive(FEED_POSITIVE)
    buffer, batch = settings.FEED_BUFFER_MAX_TICKS, settings.FEED_FLUSH_TICKS
    if not errors and buffer < batch:
        errors.append(
            Error(
                f"FEED_BUFFER_MAX_TICKS ({buffer!r}) must be at least FEED_FLUSH_TICKS ({batch!r}).",
                hint="Raise FEED_BUFFER_MAX_TICKS or lower FEED_FLUSH_TICKS.",
                id="marketdata.E002",
            )
        )
    return errors


def check_feed_heartbeat(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """/health calls a feed stale after FEED_HEARTBEAT_STALE_SECONDS: longer than one beat."""
    stale, beat = settings.FEED_HEARTBEAT_STALE_SECONDS, settings.FEED_HEARTBEAT_SECONDS
    if not (_number(stale) and _number(beat)) or stale > beat:
        return []  # non-numbers are marketdata.E001
    return [
        CheckWarning(
            f"FEED_HEARTBEAT_STALE_SECONDS ({stale!r}) does not exceed "
            f"FEED_HEARTBEAT_SECONDS ({beat!r}): /health will call a running feed stale.",
            hint="Make FEED_HEARTBEAT_STALE_SECONDS a few heartbeats long.",
            id="marketdata.W001",
        )
    ]


def check_live_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Live push (/ws): positive limits; the demand's grace and capacity."""
    return _positive(LIVE_POSITIVE)


def check_supervisor_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The feed supervisor: positive intervals and failure count, a lead of zero or more."""
    return _positive(SUPERVISOR_POSITIVE) + _not_negative(SUPERVISOR_NOT_NEGATIVE)


def check_market_data_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Tick grading: positive thresholds, a clock skew allowance of zero or more."""
    return _positive(MARKET_DATA_POSITIVE) + _not_negative(MARKET_DATA_NOT_NEGATIVE)


def check_jwt_algorithm(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An HMAC algorithm: the signing key is a shared secret (another would fail every login)."""
    algorithm = settings.SIMPLE_JWT.get("ALGORITHM", "HS256")
    if algorithm in JWT_MIN_KEY_BYTES:
        return []
    return [
        Error(
            f"ALGORITHM (SIMPLE_JWT['ALGORITHM']) must be one of {', '.join(JWT_MIN_KEY_BYTES)}, "
            f"not {algorithm!r}.",
            hint="Tokens are signed with a shared secret; asymmetric algorithms (RS256, ES256, "
            "EdDSA) need a private and a public key, which this project does not configure.",
            id="trading_signals.E002",
        )
    ]


def check_jwt_signing_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A signing key as long as its algorithm's hash, in every environment: a short HMAC key
    can be guessed offline from any one token. Its length is shown, never its value."""
    algorithm = settings.SIMPLE_JWT.get("ALGORITHM", "HS256")
    key = settings.SIMPLE_JWT.get("SIGNING_KEY", settings.SECRET_KEY) or ""
    size = len(key.encode() if isinstance(key, str) else key)
    needed = JWT_MIN_KEY_BYTES.get(algorithm)
    if needed is None or size >= needed:
        return []  # another algorithm is trading_signals.E002
    return [
        Error(
            f"The JWT signing key (JWT_SIGNING_KEY, or SECRET_KEY when unset) is {size} bytes "
            f"long; {algorithm} needs at least {needed}.",
            hint="Use a long random value, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`.",
            id="trading_signals.E003",
        )
    ]


def check_retention(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """MARKETDATA_RETENTION_DAYS: a whole number of days, 0 keeping ticks forever."""
    days = settings.MARKETDATA_RETENTION_DAYS
    if isinstance(days, int) and not isinstance(days, bool) and days >= 0:
        return []
    return [
        Error(
            f"MARKETDATA_RETENTION_DAYS must be a whole number of days, 0 or more, not {days!r}.",
            hint="0 keeps ticks forever; N deletes ticks older than N days, nightly.",
            id="trading_signals.E004",
        )
    ]


CHECKS = (
    check_feed_settings,
    check_feed_heartbeat,
    check_live_settings,
    check_supervisor_settings,
    check_market_data_settings,
    check_jwt_algorithm,
    check_jwt_signing_key,
    check_retention,
)
