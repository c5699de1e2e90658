"""Live push fan-out: our daphne `/ws` against a bare asyncio `websockets` broadcast server.

N clients, each subscribed to all six indices; a publisher process calls
`marketdata.live.publish.ticks_publish` (through Redis) with one tick per index every 1/RATE s.
Both servers get the same publisher and the same load generator (this process), one after
the other. Printed: publish-to-receive latency p50/p95/p99, delivered messages/s, and lost
messages (ticks a client never got), for each server, and our p99 over the bare one's.

    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/ws/run.py [--clients 500 1000]

Needs REDIS_URL. Uses a throwaway SQLite database in a temporary directory.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from bench.common import index_tokens, setup_django  # noqa: E402 - needs BASE_DIR on the path

VOLUME_KEY = '"volume":'  # the publisher puts its clock (microseconds) in the tick's volume


# --- The publisher (a separate process) ----------------------------------------------------


def symbols() -> list[str]:
    """The six indices, each client's subscription (once Django is set up)."""
    return list(index_tokens())


def publish(rate: float, seconds: float) -> None:
    from datetime import UTC, datetime

    from marketdata.live.publish import ticks_publish
    from marketdata.ticks import Tick

    names = symbols()
    batches = int(rate * seconds)
    start = time.monotonic() + 0.2
    for i in range(batches):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        now = datetime.now(tz=UTC)
        stamp = time.time_ns() // 1000
        ticks = [
            Tick(token=str(n), symbol=s, ltpc=100.0 + i, received_at=now, volume=stamp)
            for n, s in enumerate(names)
        ]
        ticks_publish(ticks=ticks)
    print(batches * len(names))


# --- The bare server (a separate process) --------------------------------------------------


async def bare_server(fd: int) -> None:
    import redis.asyncio as aioredis
    import websockets
    from channels.layers import get_channel_layer

    from marketdata.live.layer import expanded, unpack
    from marketdata.live.publish import tick_group

    clients: set = set()

    async def handler(connection) -> None:
        await connection.recv()  # the subscribe message: every client wants all six
        clients.add(connection)
        try:
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    def health(connection, request):
        if request.path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    prefix = get_channel_layer().prefix
    pubsub = aioredis.Redis.from_url(os.environ["REDIS_URL"]).pubsub()
    await pubsub.subscribe(*(f"{prefix}:{tick_group(s)}" for s in symbols()))
    sock = socket.socket(fileno=fd)
    async with websockets.serve(handler, sock=sock, process_request=health, compression=None):
        async for message in pubsub.listen():
            if message["type"] == "message":
                for item in expanded(unpack(message["data"])):
                    websockets.broadcast(clients, item["text"])


# --- The load generator (this process) ----------------------------------------------------


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    received: int = 0


async def client(url: str, tally: Tally, ready: asyncio.Event, done: asyncio.Event) -> None:
    import websockets

    async with websockets.connect(url, compression=None, max_queue=None) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": symbols()}))
        ready.set()
        async for text in ws:
            at = text.find(VOLUME_KEY)
            if at < 0 or text.startswith('{"type":"snapshot"'):
                continue
            end = text.find(",", at)
            tally.latencies_ms.append((time.time_ns() // 1000 - int(text[at + 9 : end])) / 1000)
            tally.received += 1
            if done.is_set():
                return


async def measure(url: str, n_clients: int, rate: float, seconds: float) -> dict:
    tally = Tally()
    done = asyncio.Event()
    readies = [asyncio.Event() for _ in range(n_clients)]
    tasks = []
    for ready in readies:
        tasks.append(asyncio.create_task(client(url, tally, ready, done)))
        await asyncio.sleep(0.002)  # a steady connect rate, not a SYN flood
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    await asyncio.sleep(1)  # let the last subscriptions land
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--publish",
        str(rate),
        str(seconds),
        stdout=subprocess.PIPE,
    )
    started = time.monotonic()
    out, _ = await publisher.communicate()
    expected = int(out) * n_clients
    deadline = time.monotonic() + 10
    while tally.received < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    done.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    q = statistics.quantiles(tally.latencies_ms, n=100) if len(tally.latencies_ms) > 1 else [0] * 99
    return {
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "rate": tally.received / elapsed,
        "lost": expected - tally.received,
        "expected": expected,
    }


def prepare_database(workdir: Path) -> tuple[dict[str, str], str]:
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "LOG_DIR": str(workdir),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    setup_django()
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench@example.com", "Bench-Password-1", name="Bench")
    return env, str(AccessToken.for_user(user))


def report(name: str, figures: dict) -> None:
    print(
        f"  {name:<14} p50 {figures['p50']:7.1f} ms  p95 {figures['p95']:7.1f} ms  "
        f"p99 {figures['p99']:7.1f} ms  {figures['rate']:8.0f} msg/s  "
        f"lost {figures['lost']} of {figures['expected']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--rate", type=float, default=5.0, help="ticks per second per index")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/ws needs REDIS_URL (a Redis server): the publisher talks to it.")

    from testing.server import serving

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env, token = prepare_database(workdir)
        bare = [sys.executable, __file__, "--bare-server", "{fd}"]
        for n in args.clients:
            print(
                f"{n} clients x {len(symbols())} symbols x {args.rate:g} ticks/s, {args.seconds:g} s"
            )
            results = {}
            for name, command in (("daphne /ws", None), ("bare websockets", bare)):
                kwargs = {"command": command} if command else {}
                with serving(env=env, log=workdir / "server.log", **kwargs) as port:
                    url = f"ws://127.0.0.1:{port}/ws?token={token}"
                    results[name] = asyncio.run(measure(url, n, args.rate, args.seconds))
                report(name, results[name])
            ratio = results["daphne /ws"]["p99"] / max(results["bare websockets"]["p99"], 0.001)
            print(f"  p99 ratio (ours / bare): {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        setup_django()
        publish(float(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--bare-server":
        setup_django()
        asyncio.run(bare_server(int(sys.argv[2])))
    else:
        main()
