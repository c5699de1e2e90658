"""`make prod-check`, the live push through nginx: `/ws` clients on both server processes, and
how long a large form body stalls their ticks.

A stall is measured at the clients: the largest gap between two ticks arriving at any client
while a body is posted, against the largest gap in the seconds before (the feed sends a batch
every `--interval`, so some gap is always there).
"""

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import websockets

from deploy.check_http import Address, Outcome, http_request

STALL_LIMIT = 0.100  # seconds
BEFORE_SECONDS = 3.0
BOUNDARY = "B"
TICK_PREFIX = '{"type":"tick"'


def form_body(parts: int, first: tuple[str, str] = ("f", "x")) -> tuple[bytes, str]:
    """A multipart/form-data body of `first`, then `parts` - 1 one-byte fields, and its
    content type."""
    part = '--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
    fields = [first, *((f"f{i}", "x") for i in range(1, parts))]
    body = "".join(part % (BOUNDARY, name, value) for name, value in fields)
    return (body + f"--{BOUNDARY}--\r\n").encode(), f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class Listener:
    upstream: str
    arrivals: list[float] = field(default_factory=list)

    def gaps(self) -> list[tuple[float, float]]:
        return list(itertools.pairwise(self.arrivals))


class TickClients:
    """WebSocket clients of /ws through nginx, each subscribed to `symbols`, noting when each
    tick arrives."""

    def __init__(self, url: str, *, token: str, symbols: list[str]) -> None:
        self.url, self.token, self.symbols = url, token, symbols
        self.listeners: list[Listener] = []
        self._connections: list[websockets.ClientConnection] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, count: int) -> None:
        for _ in range(count):
            ws = await websockets.connect(
                self.url,
                subprotocols=[websockets.Subprotocol("bearer"), websockets.Subprotocol(self.token)],
                open_timeout=10,
                compression=None,
            )
            served_by = ws.response.headers.get("X-Upstream") if ws.response else None
            listener = Listener(upstream=served_by or "unknown")
            await ws.send(json.dumps({"action": "subscribe", "symbols": self.symbols}))
            self.listeners.append(listener)
            self._connections.append(ws)
            self._tasks.append(asyncio.create_task(self._read(ws, listener)))

    @staticmethod
    async def _read(ws: websockets.ClientConnection, listener: Listener) -> None:
        async for text in ws:
            if isinstance(text, str) and text.startswith(TICK_PREFIX):
                listener.arrivals.append(time.monotonic())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self._connections), return_exceptions=True)

    async def ticks_after(self, moment: float, *, timeout: float = 15) -> bool:
        """Until every client has had a tick after `moment`; False if one had none in time."""
        deadline = time.monotonic() + timeout
        while any(not item.arrivals or item.arrivals[-1] <= moment for item in self.listeners):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def largest_gap(self, start: float, end: float, *, overlapping: bool) -> float:
        """The largest gap between ticks at any client: those that overlap [start, end], or
        (`overlapping` false) those wholly inside it."""
        found = [0.0]
        for listener in self.listeners:
            for before, after in listener.gaps():
                inside = start <= before and after <= end
                overlaps = after > start and before < end
                if overlaps if overlapping else inside:
                    found.append(after - before)
        return max(found)


async def both_servers_check(
    clients: TickClients, *, servers: list[str], seconds: float = 2
) -> Outcome:
    """Clients reached each server process (nginx names it), and every one of them got ticks."""
    counts_before = [len(item.arrivals) for item in clients.listeners]
    await asyncio.sleep(seconds)
    received = [
        len(item.arrivals) - n for item, n in zip(clients.listeners, counts_before, strict=True)
    ]
    where = Counter(item.upstream for item in clients.listeners)
    ok = set(where) == set(servers) and min(received) > 0
    spread = ", ".join(f"{count} on {server}" for server, count in sorted(where.items()))
    detail = (
        f"{len(clients.listeners)} clients: {spread}; ticks each in {seconds:.0f} s: "
        f"{min(received)} to {max(received)}"
    )
    return Outcome("/ws on both servers", ok, detail)


@dataclass(frozen=True)
class FormPost:
    """A form body posted while the clients listen, and the answer it must get."""

    name: str
    target: Address  # nginx, or a server process directly
    target_name: str
    path: str
    body: tuple[bytes, str]  # the body and its content type
    expected: int
    cookie: str = ""


async def stall_check(clients: TickClients, post: FormPost) -> Outcome:
    """`post` gets its answer, and no client's ticks stall more than STALL_LIMIT longer than
    they did in the seconds before."""
    await asyncio.sleep(BEFORE_SECONDS)  # a clean baseline, after the previous check
    content, content_type = post.body
    headers = {"Content-Type": content_type, "Cookie": post.cookie}
    started = time.monotonic()
    answer = await asyncio.to_thread(
        http_request, post.target, "POST", post.path, content, headers, 60
    )
    ended = time.monotonic()
    if not await clients.ticks_after(ended):
        return Outcome(post.name, False, f"{answer.status}; a client got no tick after the post")
    before = clients.largest_gap(started - BEFORE_SECONDS, started, overlapping=False)
    during = clients.largest_gap(started, ended, overlapping=True)
    stall = max(during - before, 0.0)
    ok = answer.status == post.expected and stall <= STALL_LIMIT
    detail = (
        f"{len(content) / 1e6:.1f} MB to {post.path}: {answer.status} from "
        f"{answer.upstream or post.target_name} in {answer.seconds * 1000:.0f} ms; largest gap "
        f"between ticks {before * 1000:.0f} ms before, {during * 1000:.0f} ms during: stall "
        f"{stall * 1000:.0f} ms (limit {STALL_LIMIT * 1000:.0f} ms)"
    )
    return Outcome(post.name, ok, detail)
