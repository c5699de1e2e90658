"""Rate limits that hold: the client's address behind NUM_PROXIES trusted proxies, and
counters that several processes share without losing a count.

DRF's own throttles keep a list of timestamps per client, read and written back without a
lock, so concurrent requests can all pass. These count in Django's cache (Redis when
REDIS_URL is set) with an atomic increment per fixed window: at most `n` attempts per
window of the rate's period, each refused one answered with the seconds left in the window.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_address(request: HttpRequest | Request) -> str:
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES = N > 0 the N-th address from the
    right of X-Forwarded-For (the one the outermost trusted proxy saw). What the client itself
    put in X-Forwarded-For is never used while it is to the left of that."""
    meta = request.META
    remote = str(meta.get("REMOTE_ADDR") or "")
    proxies = settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in str(forwarded).split(",")]
    return addresses[-min(proxies, len(addresses))] or remote


def rate_parse(rate: str) -> tuple[int, int]:
    """DRF's rate syntax, `<count>/<period>` with the period's first letter (s, m, h, d)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


def attempt_count(*, scope: str, key: str, rate: str) -> float | None:
    """Count one attempt of `key` in `scope`; None when within `rate`, else the seconds to wait.

    The key is hashed: it may be anything a client sends (an email, say).
    """
    limit, period = rate_parse(rate)
    now = time.time()
    window = int(now // period) * period
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"throttle:{scope}:{digest}:{window}"
    cache.add(cache_key, 0, timeout=period + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr: the window just ended
        cache.add(cache_key, 1, timeout=period + 1)
        count = 1
    if count <= limit:
        return None
    return max(window + period - now, 1.0)


class WindowRateThrottle(BaseThrottle):
    """A DRF throttle over `attempt_count`: subclasses name the scope, the setting holding the
    rate (read at each request) and the key; no key means the request is not counted."""

    scope: str
    rate_setting: str

    def __init__(self) -> None:
        self._wait: float | None = None

    def key(self, request: Request, view: APIView) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = self.key(request, view)
        if key is None:
            return True
        self._wait = attempt_count(
            scope=self.scope, key=key, rate=getattr(settings, self.rate_setting)
        )
        return self._wait is None

    def wait(self) -> float | None:
        return None if self._wait is None else float(math.ceil(self._wait))


class ClientRateThrottle(WindowRateThrottle):
    """Per client address (`client_address`)."""

    def key(self, request: Request, view: APIView) -> str | None:
        return client_address(request)


class UserRateThrottle(WindowRateThrottle):
    """Per signed-in user, whatever address the requests come from; anonymous requests are not
    counted (the API refuses them before throttling)."""

    def key(self, request: Request, view: APIView) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None
