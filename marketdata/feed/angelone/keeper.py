"""The one Angel One session every stream connection shares, and the backoff they retry with.

Logins and refreshes are spaced at least `AUTH_INTERVAL_SECONDS` apart (SmartAPI's rate limit
for both); the session is refreshed `refresh_margin` seconds before its JWT's own `exp`.
"""

import asyncio
import logging
import math
import random
import time
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from marketdata.feed.angelone.session import AngelOneUnavailable, LoginSession, SmartApiClient
from marketdata.feed.errors import AngelOneSessionError

logger = logging.getLogger("marketdata.feed.angelone.stream")

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
AUTH_INTERVAL_SECONDS = 1.0
# What a stream connection retries after a backoff, instead of ending the source.
RETRYABLE = (
    AngelOneUnavailable,
    AngelOneSessionError,
    ConnectionClosed,
    InvalidHandshake,
    OSError,
    TimeoutError,
)


class Backoff:
    """Exponential backoff with full jitter: wait a random time in [0, min(cap, base * 2^n)]."""

    def __init__(self, *, base: float, cap: float) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 32)
        return random.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class SessionKeeper:
    """The one Angel One session all connections share: log in, refresh, re-login."""

    def __init__(self, client: SmartApiClient, *, refresh_margin: float, stats: dict[str, int]):
        self._client = client
        self._refresh_margin = refresh_margin
        self._stats = stats
        self._session: LoginSession | None = None
        self._lock = asyncio.Lock()
        self._last_call = -math.inf

    async def session(self) -> LoginSession:
        async with self._lock:
            if self._session is None:
                self._session = await self._rate_limited(self._client.login)
                self._stats["logins"] += 1
            return self._session

    def reject(self, session: LoginSession | None) -> None:
        """The service refused `session`: the next caller logs in again."""
        if session is not None and self._session is session:
            self._session = None

    async def keep_fresh(self) -> None:
        """Refresh the session `refresh_margin` seconds before its JWT expires, forever."""
        backoff = Backoff(base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)
        while True:
            try:
                session = await self.session()
            except (AngelOneUnavailable, AngelOneSessionError):
                await asyncio.sleep(backoff.next())
                continue
            if session.expires_at is None:
                return
            left = (session.expires_at - datetime.now(tz=UTC)).total_seconds()
            await asyncio.sleep(max(left - self._refresh_margin, AUTH_INTERVAL_SECONDS))
            await self._refresh(session)

    async def _refresh(self, session: LoginSession) -> None:
        async with self._lock:
            if self._session is not session:
                return  # already replaced by a re-login
            try:
                self._session = await self._rate_limited(self._client.refresh, session)
                self._stats["refreshes"] += 1
            except (AngelOneUnavailable, AngelOneSessionError) as exc:
                logger.warning("Angel One session refresh failed (%s); logging in again", exc)
                self._session = None

    async def _rate_limited(self, call: Any, *args: Any) -> LoginSession:
        wait = self._last_call + AUTH_INTERVAL_SECONDS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            return await asyncio.to_thread(call, *args)
        finally:
            self._last_call = time.monotonic()


def retry_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
