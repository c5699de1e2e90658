"""Demand: which instruments the feed streams now, changed at runtime.

The running feed's set is the union of
- instruments staff mark `subscribed` (admin and API);
- what registered *demand providers* return: `signals` registers one (the options of ACTIVE
  signals) from `SignalsConfig.ready()`, as it registers its after-store hook, so `marketdata`
  never imports `signals`;
- *holds*: the symbols connected `/ws` clients subscribe to (`demand_hold` /
  `demand_release`), counted per holder in each server process and kept
  `LIVE_DEMAND_GRACE_SECONDS` after the process's last holder of a symbol leaves;
- *touches*: symbols a request used (an option chain), kept for the same grace
  (`demand_touch`).

Holds and touches reach the feed through Redis when `REDIS_URL` is set: each process keeps
one *lease* (a field of the hash `demand:holds`: its holds, their grace deadlines and the
lease's own expiry), rewritten by a small thread of the process when they change and every
`LEASE_REFRESH_SECONDS`; a process that dies stops refreshing and its lease is ignored after
`LEASE_SECONDS`. Touches are members of the sorted set `demand:touches` scored by their
deadline. Every change is announced on the pub/sub channel `demand:<db>:changed`, which the
feed listens to (`demand_listen`) besides reading the demand every fraction of a second.
Without Redis all of it lives in this process: right for the embedded default, where
`manage.py serve` runs the server and the feed in one process.

At most `LIVE_DEMAND_MAX_INSTRUMENTS` instruments are streamed (Angel One: 3 connections x
1,000 tokens). A hold or touch that would go past it is refused with `DemandFullError` (the `/ws`
client gets a `subscription_limit` error) and remembered for `/health` (`demand_health`).
Should the demand still exceed it (staff subscriptions, two processes admitting at once),
`demand_read` keeps the first instruments in the order subscribed, providers, holds,
touches (those already streamed first within each) and names the rest in `Demand.over`.

Modes: a hold or touch may ask for `ltp`, `quote` or `snap_quote`; an instrument is streamed
in the highest mode asked for, `None` standing for the feed's own (`--mode`).
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q

from marketdata.demand.model import (
    DEFAULT_MODE,
    HELD,
    HOLDS_KEY,
    MODES,
    PROVIDED,
    REFUSALS_KEY,
    REFUSALS_SHOWN_SECONDS,
    TOUCHED,
    TOUCHES_KEY,
    WRITE_RETRY_SECONDS,
    Demand,
    DemandedInstrument,
    DemandFullError,
    _capacity,
    _grace,
    _mode_checked,
    _upper,
    demand_build,
    mode_highest,
)
from marketdata.demand.process import (
    ProcessDemand,
    Waker,
    _local,
    _redis,
    _Throttled,
    _wake_local,
    demand_channel,
    demand_waker_add,
    demand_waker_remove,
    process_demand_replace,
)
from marketdata.models import Instrument

__all__ = [
    "DEFAULT_MODE",
    "HOLDS_KEY",
    "MODES",
    "REFUSALS_KEY",
    "TOUCHES_KEY",
    "Demand",
    "DemandFullError",
    "DemandProvider",
    "DemandedInstrument",
    "ProcessDemand",
    "Waker",
    "demand_changed",
    "demand_health",
    "demand_hold",
    "demand_listen",
    "demand_provider_register",
    "demand_read",
    "demand_release",
    "demand_touch",
    "demand_waker_add",
    "demand_waker_remove",
    "mode_highest",
    "process_demand_replace",
]

logger = logging.getLogger(__name__)

DemandProvider = Callable[[], Iterable[str]]  # returns symbols of the instrument master
_providers: list[DemandProvider] = []


# --- Registration and notification ---------------------------------------------------------


def demand_provider_register(provider: DemandProvider) -> None:
    """Add `provider()`'s symbols to the demand; registering twice changes nothing."""
    if provider not in _providers:
        _providers.append(provider)


def demand_changed() -> None:
    """Tell running feeds to read the demand now (e.g. on commit of a signal's change).

    Never raises: the feeds read the demand every fraction of a second anyway.
    """
    _wake_local()
    if settings.REDIS_URL:
        try:
            _redis().publish(demand_channel(), b"changed")
        except (redis.RedisError, OSError) as exc:
            logger.warning("Could not announce a demand change through Redis: %s", exc)


async def demand_listen(*, wake: Waker) -> None:
    """Call `wake()` on every change announced through Redis, until cancelled (returns at
    once without Redis: changes are then announced in process, see `demand_waker_add`)."""
    if not settings.REDIS_URL:
        return
    log = _Throttled()
    while True:
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(demand_channel())
            wake()  # anything announced before the subscription is read now
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is not None:
                    wake()
        except (redis.RedisError, OSError) as exc:
            log.warning("The feed lost the demand announcements from Redis (%s); retrying", exc)
        finally:
            await pubsub.aclose()
            await client.aclose()
        await asyncio.sleep(WRITE_RETRY_SECONDS)


# --- Holds and touches ---------------------------------------------------------------------


def demand_hold(*, holder: str, symbols: Sequence[str], mode: str | None = None) -> None:
    """`holder` (e.g. a `/ws` connection) wants `symbols` streamed until it releases them.

    Raises DemandFullError, and changes nothing, when they would take the demand past the
    capacity. Symbols should be known instruments (the feed ignores others). Checking the
    capacity reads the demand; if it cannot be read the hold is admitted (the feed still
    streams at most the capacity, and `/health` says so).
    """
    names = _upper(symbols)
    mode = _mode_checked(mode)
    if not names:
        return
    local = _local()
    if not local.holding(names):
        _admit(names)
    local.hold(holder, names, mode)


def demand_release(*, holder: str, symbols: Iterable[str] | None = None) -> None:
    """`holder` no longer wants `symbols` (all it holds when None). A symbol no holder of this
    process wants stays streamed for `LIVE_DEMAND_GRACE_SECONDS`. Never blocks on I/O."""
    names = None if symbols is None else _upper(symbols)
    _local().release(holder, names, grace=_grace())


def demand_touch(*, symbols: Sequence[str], mode: str | None = None) -> None:
    """Stream `symbols` for `LIVE_DEMAND_GRACE_SECONDS` from now (an option chain's
    contracts). Raises DemandFullError, and changes nothing, past the capacity."""
    names = _upper(symbols)
    mode = _mode_checked(mode)
    if not names:
        return
    _admit(names)
    until = time.time() + _grace()
    if not settings.REDIS_URL:
        _local().touch(names, mode, until)
        return
    members = {f"{symbol}|{mode or ''}": until for symbol in names}
    client = _redis()
    with client.pipeline(transaction=False) as pipe:
        pipe.zadd(TOUCHES_KEY, members, gt=True)  # adds new members; only raises deadlines
        pipe.publish(demand_channel(), b"touches")
        pipe.execute()
    _wake_local()


def _admit(symbols: Sequence[str]) -> None:
    try:
        demand = demand_read()
    except (DatabaseError, redis.RedisError, OSError) as exc:
        logger.warning("The demand could not be read (%s); admitting %s unchecked", exc, symbols)
        return
    known = demand.symbols() | set(demand.over)
    new = [symbol for symbol in symbols if symbol not in known]
    demanded = len(demand.instruments) + len(demand.over)
    if new and demanded + len(new) > _capacity():
        _refusal_note(new)
        raise DemandFullError(symbols=new, demanded=demanded, capacity=_capacity())


def _refusal_note(symbols: Sequence[str]) -> None:
    now = time.time()
    logger.warning(
        "Demand refused past the capacity of %d instruments: %s", _capacity(), ", ".join(symbols)
    )
    if not settings.REDIS_URL:
        _local().refusal_note(symbols, now)
        return
    try:
        client = _redis()
        with client.pipeline(transaction=False) as pipe:
            pipe.hsetnx(REFUSALS_KEY, "first_at", now)
            pipe.hincrby(REFUSALS_KEY, "count", 1)
            pipe.hset(REFUSALS_KEY, mapping={"last_at": now, "last": ",".join(symbols)})
            pipe.expire(REFUSALS_KEY, REFUSALS_SHOWN_SECONDS)
            pipe.execute()
    except (redis.RedisError, OSError) as exc:
        logger.warning("Could not record a demand refusal in Redis: %s", exc)


def _refusals(now: float) -> dict[str, Any]:
    if not settings.REDIS_URL:
        return _local().refusals(now)
    raw: dict[bytes, bytes] = _redis().hgetall(REFUSALS_KEY)  # type: ignore[assignment]
    return {key.decode(): value.decode() for key, value in raw.items()}


# --- Reading the demand --------------------------------------------------------------------


def _runtime_entries(now: float) -> list[tuple[str, str | None, int]]:
    """(symbol, mode, priority) of the holds of every process and of the touches."""
    local = _local()
    entries = [
        (symbol, mode, HELD) for symbol, (modes, _) in local.holds(now).items() for mode in modes
    ]
    if not settings.REDIS_URL:
        entries += [(symbol, mode, TOUCHED) for symbol, mode in local.touches(now)]
        return entries
    client = _redis()
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(HOLDS_KEY)
        pipe.zrangebyscore(TOUCHES_KEY, now, "+inf")
        pipe.zremrangebyscore(TOUCHES_KEY, "-inf", now)
        leases, touches, _ = pipe.execute()
    stale = []
    for field, raw in leases.items():
        lease_id = field.decode()
        if lease_id == local.lease_id:
            continue  # this process's own holds, read above without the writer's lag
        try:
            lease = json.loads(raw)
            if lease["expires"] < now:
                stale.append(field)
                continue
            for symbol, (modes, until) in lease["holds"].items():
                if until is None or until > now:
                    entries += [(symbol, m if m in MODES else None, HELD) for m in modes]
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("Ignoring a malformed demand lease %s", lease_id)
    if stale:
        client.hdel(HOLDS_KEY, *stale)
    for member in touches:
        symbol, _, mode = member.decode().partition("|")
        entries.append((symbol, mode if mode in MODES else None, TOUCHED))
    return entries


def _provided() -> list[str]:
    symbols: list[str] = []
    for provider in _providers:
        try:
            symbols.extend(provider())
        except DatabaseError:
            raise
        except Exception:
            logger.exception("The demand provider %s failed", getattr(provider, "__qualname__", ""))
    return symbols


def demand_read(
    *,
    default_mode: str = DEFAULT_MODE,
    streaming: Collection[str] = (),
    previous: Demand | None = None,
) -> Demand:
    """The instruments to stream now, in their modes, at most the capacity.

    `streaming` (symbols already streamed) keeps those first within their priority should
    the demand exceed the capacity. `previous` is returned as it is when nothing it was built
    from has changed (`streaming` aside: it only orders what was built): a feed polling
    thousands of instruments then reads a few columns, not whole rows. Raises what the
    database or Redis raise; a feed keeps its current set then.
    """
    now = time.time()
    wanted: dict[str, tuple[int, list[str | None]]] = {}  # symbol -> (priority, modes)

    def want(symbol: str, mode: str | None, priority: int) -> None:
        best, modes = wanted.get(symbol, (priority, []))
        wanted[symbol] = (min(best, priority), [*modes, mode])

    for symbol in _provided():
        want(symbol.upper(), None, PROVIDED)
    entries = _runtime_entries(now)
    for symbol, mode, priority in entries:
        want(symbol, mode, priority)
    watched = frozenset(symbol for symbol, _, priority in entries if priority == HELD)
    # `subscribed=True` is written as the bare column on SQLite, which no index serves: with a
    # full master (100,000 rows and more) every read scanned it. `IN (true)` uses the index.
    rows = Instrument.objects.filter(Q(subscribed__in=[True]) | Q(symbol__in=list(wanted)))
    listed = rows.values_list("pk", "symbol", "exchange", "exchange_type", "token", "subscribed")
    basis = (
        default_mode,
        watched,
        frozenset((symbol, priority, tuple(modes)) for symbol, (priority, modes) in wanted.items()),
        frozenset(listed),
    )
    if previous is not None and previous.basis == basis:
        return previous
    return demand_build(
        rows,
        wanted=wanted,
        default_mode=default_mode,
        keep=set(streaming),
        basis=basis,
        watched=watched,
    )


def demand_health() -> str:
    """The `feed_demand` line of /health: how many instruments are in demand of the capacity,
    and whether some were refused lately or are demanded past it. Never "down"."""
    now = time.time()
    try:
        demand = demand_read()
        refusals = _refusals(now)
    except (DatabaseError, redis.RedisError, OSError) as exc:
        logger.warning("The demand could not be read for /health: %s", exc)
        return "unknown (the demand could not be read)"
    capacity = _capacity()
    count = len(demand.instruments)
    text = f"{count} of {capacity} instruments"
    if demand.over:
        named = ", ".join(demand.over[:5]) + (", ..." if len(demand.over) > 5 else "")
        return f"over capacity: {text} streamed, {len(demand.over)} more not streamed ({named})"
    if refusals:
        since = _iso(float(refusals["first_at"]))
        last = _iso(float(refusals["last_at"]))
        return (
            f"full: {text}; {refusals['count']} subscription(s) refused (subscription_limit) "
            f"since {since}, the last at {last} ({refusals['last']})"
        )
    return f"full: {text}" if count >= capacity else f"ok: {text}"


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="seconds")
