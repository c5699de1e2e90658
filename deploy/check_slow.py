"""`make prod-check`, slow and greedy clients against nginx's limits.

- slowloris: connections that send a request line, a Host header, then one more header line
  every 20 s, and slow bodies (a POST whose body comes one byte every 20 s): nginx's
  client_header_timeout and client_body_timeout (10 s) must close them while the API answers;
- the per-address connection limit (`limit_conn`): past it nginx answers 429.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from deploy.check_http import Address, Answer, Outcome, get
from deploy.check_live import TickClients

DRIP_SECONDS = 20.0  # one more header line (or body byte) this often
NGINX_TIMEOUT = 10.0  # client_header_timeout and client_body_timeout in deploy/nginx/site.conf.in
SLACK = 2.0
HEADER_START = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
BODY_START = (
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{"
)


async def _held_open(address: Address, first: bytes, drip: bytes, *, limit: float) -> float | None:
    """Send `first`, then `drip` every DRIP_SECONDS; seconds until the server closed the
    connection, or None if it was still open after `limit` seconds."""
    reader, writer = await asyncio.open_connection(*address)
    started = time.monotonic()
    try:
        writer.write(first)
        await writer.drain()
        while (left := started + limit - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=min(DRIP_SECONDS, left))
            except TimeoutError:
                writer.write(drip)
                await writer.drain()
                continue
            if not data:  # closed (nginx may answer 408 first)
                return time.monotonic() - started
        return None
    except ConnectionError:
        return time.monotonic() - started
    finally:
        writer.close()


async def _answers_during(probe: Callable[[], Answer], until: asyncio.Future[Any]) -> list[int]:
    """The status of `probe` every half second while `until` runs."""
    statuses = []
    while not until.done():
        statuses.append((await asyncio.to_thread(probe)).status)
        await asyncio.sleep(0.5)
    return statuses


async def slowloris_check(
    nginx: Address, *, token: str, clients: TickClients, headers: int = 300, bodies: int = 20
) -> Outcome:
    """The slow connections are closed by nginx within its timeouts, while the API answers and
    the /ws clients get their ticks."""
    limit = NGINX_TIMEOUT + SLACK
    started = time.monotonic()
    attack: list[Awaitable[float | None]] = [
        _held_open(nginx, HEADER_START, b"X-Slow: 1\r\n", limit=limit) for _ in range(headers)
    ]
    attack += [_held_open(nginx, BODY_START, b" ", limit=limit) for _ in range(bodies)]
    running = asyncio.ensure_future(asyncio.gather(*attack, return_exceptions=True))
    await asyncio.sleep(0.5)  # every connection open before the first probe
    statuses = await _answers_during(
        lambda: get(nginx, "/api/v1/market-data/latest", token), running
    )
    closed_after = await running
    ticking = await clients.ticks_after(time.monotonic())
    gap = clients.largest_gap(started, time.monotonic(), overlapping=True)
    times = [t for t in closed_after if isinstance(t, float)]
    still_open = closed_after.count(None)
    errors = len(closed_after) - len(times) - still_open  # could not even connect
    served = statuses.count(200)
    ok = len(times) == headers + bodies and served == len(statuses) > 0 and ticking
    spread = f"{min(times):.1f}-{max(times):.1f} s" if times else "none"
    detail = (
        f"{headers} slow headers + {bodies} slow bodies: {len(times)} closed by nginx after "
        f"{spread} (timeout {NGINX_TIMEOUT:.0f} s), {still_open} still open after {limit:.0f} s, "
        f"{errors} not connected; meanwhile the API answered {served} of {len(statuses)} requests and "
        f"the largest gap between ticks at a /ws client was {gap * 1000:.0f} ms"
    )
    return Outcome("slowloris", ok, detail)


async def per_ip_limit_check(nginx: Address, *, limit: int) -> Outcome:
    """Hold `limit` requests open (their bodies pending) from this address: the next request
    gets 429 from nginx, and once they are closed it is served again."""
    held = [await asyncio.open_connection(*nginx) for _ in range(limit)]
    for _, writer in held:
        writer.write(BODY_START)
    await asyncio.gather(*(writer.drain() for _, writer in held))
    await asyncio.sleep(0.5)  # nginx has read their headers: each one counts
    refused = await asyncio.to_thread(get, nginx, "/health")
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.5)
    served = await asyncio.to_thread(get, nginx, "/health")
    ok = refused.status == 429 and refused.upstream is None and served.status == 200
    detail = (
        f"with {limit} requests held open: {refused.status} from nginx; after closing them: "
        f"{served.status}"
    )
    return Outcome("per-address limit", ok, detail)
