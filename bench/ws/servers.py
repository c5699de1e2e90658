"""bench/ws's child processes besides the load generator: the bare server and the publishers.

    python bench/ws/servers.py bare FD
    python bench/ws/servers.py publish fanout|pubsub RATE SECONDS

The publisher sends one tick per index every 1/RATE s for SECONDS, with its clock
(microseconds) in each tick's volume, and prints how many ticks it published per symbol.
`fanout` is the product's `ticks_publish` (our FanoutChannelLayer, one Redis message per
symbol and batch); `pubsub` renders the same tick messages and sends one `group_send` per
tick through the configured channel layer (channels-redis' pub/sub layer).
"""

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import index_tokens, setup_django

START_DELAY_SECONDS = 0.2


def _batches(rate: float, seconds: float) -> Iterator[list]:
    """Each batch's ticks (one per index), yielded at its time."""
    from marketdata.ticks import Tick

    names = list(index_tokens())
    start = time.monotonic() + START_DELAY_SECONDS
    for i in range(int(rate * seconds)):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        now = datetime.now(tz=UTC)
        stamp = time.time_ns() // 1000
        yield [
            Tick(token=str(n), symbol=s, ltpc=100.0 + i, received_at=now, volume=stamp)
            for n, s in enumerate(names)
        ]


def publish_fanout(rate: float, seconds: float) -> int:
    from marketdata.live.publish import ticks_publish

    batches = 0
    for ticks in _batches(rate, seconds):
        ticks_publish(ticks=ticks)
        batches += 1
    return batches


def publish_pubsub(rate: float, seconds: float) -> int:
    from channels.layers import get_channel_layer

    from marketdata.live.publish import tick_group
    from marketdata.live.render import tick_render
    from trading_signals.wire import json_render

    seqs = dict.fromkeys(index_tokens(), 0)

    async def publish() -> int:
        layer = get_channel_layer()  # one loop for the whole run: the layer's connections
        batches = 0
        for ticks in _batches(rate, seconds):  # sleeps between batches block: nothing else runs
            for tick in ticks:
                seqs[tick.symbol] += 1
                message = {"type": "tick", "seq": seqs[tick.symbol], "tick": tick_render(tick)}
                await layer.group_send(
                    tick_group(tick.symbol), {"type": "tick.message", "text": json_render(message)}
                )
            batches += 1
        return batches

    return asyncio.run(publish())


async def bare_server(fd: int) -> None:
    """An asyncio `websockets` server relaying our Redis channels with `websockets.broadcast`."""
    import redis.asyncio as aioredis
    import websockets
    from channels.layers import get_channel_layer

    from marketdata.live.layer import expanded, unpack
    from marketdata.live.publish import tick_group

    clients: set = set()

    async def handler(connection) -> None:
        await connection.recv()  # the subscribe message: every client wants all six
        clients.add(connection)
        await connection.send('{"type":"snapshot"}')
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
    await pubsub.subscribe(*(f"{prefix}:{tick_group(s)}" for s in index_tokens()))
    sock = socket.socket(fileno=fd)
    async with websockets.serve(handler, sock=sock, process_request=health, compression=None):
        async for message in pubsub.listen():
            if message["type"] == "message":
                for item in expanded(unpack(message["data"])):
                    websockets.broadcast(clients, item["text"])


if __name__ == "__main__":
    setup_django()
    if sys.argv[1] == "bare":
        asyncio.run(bare_server(int(sys.argv[2])))
    else:
        publisher = {"fanout": publish_fanout, "pubsub": publish_pubsub}[sys.argv[2]]
        print(publisher(float(sys.argv[3]), float(sys.argv[4])))
