"""bench/ws's load generator: one process holding its share of the clients (run.py starts two).

    python bench/ws/load.py URL CLIENTS SYMBOL,SYMBOL,...

Connects CLIENTS WebSocket clients to URL at a steady pace; each subscribes to the symbols
and counts as ready once the server answered (the snapshot). Prints `ready`, then
reads one line from stdin: the number of ticks each client must get. It waits until every
client has them (or READ_GRACE_SECONDS more passed) and prints one JSON line: each client's
tick count, every publish-to-receive latency in microseconds, and how busy this process was
meanwhile (CPU seconds per second: near 1 would make it the bottleneck).

Clients read every message as it arrives (their connections never pause reading: no
`max_queue`) and parse only the number they need, so the generator stays far from its CPU
limit while the server is measured.
"""

import asyncio
import json
import sys
import time

import uvloop
import websockets

TICK_PREFIX = b'{"type":"tick"'
VOLUME_KEY = b'"volume":'  # the publisher puts its clock (microseconds) in the tick's volume
CONNECT_PACE_SECONDS = 0.004
READ_GRACE_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 120.0


class Client:
    __slots__ = ("latencies", "ready", "received")

    def __init__(self) -> None:
        self.received = 0
        self.latencies: list[int] = []
        self.ready = asyncio.Event()

    async def run(self, url: str, symbols: list[str]) -> None:
        async with websockets.connect(url, compression=None, max_size=None, max_queue=None) as ws:
            await ws.send(json.dumps({"action": "subscribe", "symbols": symbols}))
            await ws.recv(decode=False)  # the snapshot: subscribed
            self.ready.set()
            while True:
                data = await ws.recv(decode=False)
                now = time.time_ns() // 1000
                if not data.startswith(TICK_PREFIX):
                    continue
                at = data.find(VOLUME_KEY) + len(VOLUME_KEY)
                self.latencies.append(now - int(data[at : data.find(b",", at)]))
                self.received += 1


async def main(url: str, count: int, symbols: list[str]) -> None:
    clients = [Client() for _ in range(count)]
    tasks = []
    for client in clients:
        tasks.append(asyncio.create_task(client.run(url, symbols)))
        await asyncio.sleep(CONNECT_PACE_SECONDS)  # a steady connect rate, not a SYN flood
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
    while not all(c.ready.is_set() for c in clients):
        failed = next((t for t in tasks if t.done()), None)
        if failed is not None:
            failed.result()  # raises what ended the client
        if time.monotonic() > deadline:
            raise TimeoutError("Clients did not connect and subscribe in time.")
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    cpu, wall = time.process_time(), time.monotonic()
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    expected = int(line)
    deadline = time.monotonic() + READ_GRACE_SECONDS
    while time.monotonic() < deadline and any(c.received < expected for c in clients):
        await asyncio.sleep(0.05)
    busy = (time.process_time() - cpu) / (time.monotonic() - wall)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [value for client in clients for value in client.latencies]
    received = [c.received for c in clients]
    print(json.dumps({"received": received, "latencies_us": latencies, "busy": busy}))


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")))
