"""This server process's holds and touches, and its lease in Redis (or in process without one).

See the package's docstring for how holds, touches and leases make up the demand.
"""

import atexit
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from django.conf import settings

from marketdata.demand.model import (
    HOLDS_KEY,
    LEASE_REFRESH_SECONDS,
    LEASE_SECONDS,
    LOG_EVERY_SECONDS,
    REDIS_TIMEOUT_SECONDS,
    REFUSALS_SHOWN_SECONDS,
    WRITE_RETRY_SECONDS,
)

logger = logging.getLogger("marketdata.demand")

Waker = Callable[[], None]
_wakers: set[Waker] = set()


# --- Redis --------------------------------------------------------------------------------

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis() -> redis.Redis:
    url = settings.REDIS_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        return client


def demand_channel() -> str:
    """The pub/sub channel announcing changes (pub/sub ignores database numbers: named in)."""
    db = redis.connection.parse_url(settings.REDIS_URL).get("db", 0)
    return f"demand:{db}:changed"


class _Throttled:
    """Log a recurring problem at most every LOG_EVERY_SECONDS."""

    def __init__(self) -> None:
        self._last = -LOG_EVERY_SECONDS

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            logger.warning(message, *args)


# --- This process's holds and touches ------------------------------------------------------


class ProcessDemand:
    """The holds of this process's clients (and, without Redis, the touches), and the thread
    that keeps this process's lease in Redis up to date."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lease_id = f"{socket.gethostname()}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._holders: dict[str, dict[str, str | None]] = {}  # symbol -> holder -> mode
        self._graced: dict[str, tuple[float, str | None]] = {}  # symbol -> (until, mode)
        self._touches: dict[tuple[str, str | None], float] = {}  # without Redis
        self._refusals: dict[str, Any] = {}  # without Redis
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._written: dict[str, Any] | None = None
        self._log = _Throttled()

    # Holds.
    def holding(self, symbols: Iterable[str]) -> bool:
        """True when this process holds every one of `symbols` already."""
        with self._lock:
            return all(self._holders.get(symbol) for symbol in symbols)

    def hold(self, holder: str, symbols: Iterable[str], mode: str | None) -> None:
        with self._lock:
            for symbol in symbols:
                self._holders.setdefault(symbol, {})[holder] = mode
                self._graced.pop(symbol, None)
        self._changed()

    def release(self, holder: str, symbols: Iterable[str] | None, *, grace: float) -> None:
        until = time.time() + grace
        changed = False
        with self._lock:
            names = list(self._holders) if symbols is None else list(symbols)
            for symbol in names:
                holders = self._holders.get(symbol)
                if not holders or holder not in holders:
                    continue
                mode = holders.pop(holder)
                changed = True
                if not holders:
                    del self._holders[symbol]
                    self._graced[symbol] = (until, mode)
        if changed:
            self._changed()

    def holds(self, now: float) -> dict[str, tuple[list[str | None], float | None]]:
        """symbol -> (the modes its holders asked for, None standing for the feed's own; the
        grace deadline, or None while held). Expired graces are dropped."""
        with self._lock:
            for symbol in [s for s, (until, _) in self._graced.items() if until <= now]:
                del self._graced[symbol]
            entries: dict[str, tuple[list[str | None], float | None]] = {
                symbol: (_distinct(holders.values()), None)
                for symbol, holders in self._holders.items()
            }
            for symbol, (until, mode) in self._graced.items():
                entries[symbol] = ([mode], until)
            return entries

    # Touches and refusals, without Redis.
    def touch(self, symbols: Iterable[str], mode: str | None, until: float) -> None:
        with self._lock:
            for symbol in symbols:
                key = (symbol, mode)
                self._touches[key] = max(until, self._touches.get(key, 0.0))
        _wake_local()

    def touches(self, now: float) -> list[tuple[str, str | None]]:
        with self._lock:
            for key in [key for key, until in self._touches.items() if until <= now]:
                del self._touches[key]
            return list(self._touches)

    def refusal_note(self, symbols: Sequence[str], now: float) -> None:
        with self._lock:
            if now - self._refusals.get("last_at", 0.0) > REFUSALS_SHOWN_SECONDS:
                self._refusals = {"count": 0, "first_at": now}
            self._refusals.update(
                count=self._refusals["count"] + 1, last_at=now, last=",".join(symbols)
            )

    def refusals(self, now: float) -> dict[str, Any]:
        with self._lock:
            if now - self._refusals.get("last_at", 0.0) > REFUSALS_SHOWN_SECONDS:
                return {}
            return dict(self._refusals)

    # The lease.
    def _changed(self) -> None:
        _wake_local()
        if settings.REDIS_URL:
            self._writer_start()
            self._wake.set()

    def _writer_start(self) -> None:
        with self._lock:
            if self._writer is None and not self._closed:
                self._writer = threading.Thread(
                    target=self._write_forever, name="demand-lease", daemon=True
                )
                self._writer.start()

    def _write_forever(self) -> None:
        while not self._closed:
            self._wake.wait(LEASE_REFRESH_SECONDS)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.lease_write()
            except (redis.RedisError, OSError) as exc:
                self._log.warning("Could not write this process's demand lease to Redis: %s", exc)
                self._written = None  # write it all again, and announce it, once Redis is back
                time.sleep(WRITE_RETRY_SECONDS)
                self._wake.set()

    def lease_write(self) -> None:
        """Write this process's lease (or remove it when it holds nothing); announce changes."""
        now = time.time()
        holds = {symbol: [modes, until] for symbol, (modes, until) in self.holds(now).items()}
        client = _redis()
        if holds:
            lease = {"expires": now + LEASE_SECONDS, "holds": holds}
            client.hset(HOLDS_KEY, self.lease_id, json.dumps(lease))
        elif self._written != {}:
            client.hdel(HOLDS_KEY, self.lease_id)
        if holds != self._written:
            client.publish(demand_channel(), b"holds")
        self._written = holds

    def close(self) -> None:
        """Stop the writer and remove the lease (at exit; tests)."""
        self._closed = True
        self._wake.set()
        if self._written and settings.REDIS_URL:
            try:
                _redis().hdel(HOLDS_KEY, self.lease_id)
                _redis().publish(demand_channel(), b"holds")
            except (redis.RedisError, OSError):
                pass  # the lease expires by itself


def _distinct(modes: Iterable[str | None]) -> list[str | None]:
    return list(dict.fromkeys(modes))


_process: ProcessDemand | None = None
_process_lock = threading.Lock()


def _local() -> ProcessDemand:
    """This process's holds (a forked child starts with none)."""
    global _process
    with _process_lock:
        if _process is None or _process.pid != os.getpid():
            _process = ProcessDemand()
        return _process


@atexit.register
def _close_at_exit() -> None:
    if _process is not None and _process.pid == os.getpid():
        _process.close()


def process_demand_replace(new: ProcessDemand | None = None) -> ProcessDemand:
    """Close this process's holds and start afresh (tests); returns the new registry."""
    global _process
    with _process_lock:
        if _process is not None:
            _process.close()
        _process = new or ProcessDemand()
        return _process


# --- Wakers: the feed's followers in this process ---


def demand_waker_add(waker: Waker) -> None:
    """Call `waker()` (from any thread) whenever this process changes the demand."""
    _wakers.add(waker)


def demand_waker_remove(waker: Waker) -> None:
    _wakers.discard(waker)


def _wake_local() -> None:
    for waker in list(_wakers):
        try:
            waker()
        except Exception:
            logger.exception("A demand waker failed")
