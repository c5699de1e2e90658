"""bench/latency's far ends, each a process of its own: the /ws client and the bare relay."""

import asyncio
import contextlib
import json
import math
import os
import select
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.latency.processes import START_TIMEOUT, Processes

RUN = str(Path(__file__).with_name("run.py"))  # the bench's entry point starts the client

SUBSCRIBE_CHUNK = 50  # symbols per subscribe message (the server's WS_MAX_MESSAGE_BYTES)


# --- The client (a separate process) -------------------------------------------------------


def _exchange_ms(iso: str) -> int:
    moment = datetime.fromisoformat(iso)
    return round(moment.timestamp() * 1000)


async def client_run(url: str, symbols: list[str], seconds: float) -> None:
    """Subscribe, say "ready <ns>", record every message for `seconds`, then print the ticks
    as JSON [token, exchange ms, arrival ns, seq, symbol, length]. Decoding waits until the
    end, so the receive loop does nothing but note the time."""
    import websockets

    async with websockets.connect(url, compression=None, max_queue=None, max_size=None) as ws:
        for start in range(0, len(symbols), SUBSCRIBE_CHUNK):
            chunk = symbols[start : start + SUBSCRIBE_CHUNK]
            await ws.send(json.dumps({"action": "subscribe", "symbols": chunk}))
        pending = math.ceil(len(symbols) / SUBSCRIBE_CHUNK)
        arrivals: list[tuple[int, str]] = []
        while pending:
            text = await ws.recv()
            kind = json.loads(text).get("type")
            if kind == "error":
                sys.exit(f"the server refused the subscription: {text}")
            if kind == "snapshot":
                pending -= 1
            else:
                arrivals.append((time.time_ns(), text))
        print("ready", time.time_ns(), flush=True)

        async def read() -> None:
            async for message in ws:
                arrivals.append((time.time_ns(), message))  # type: ignore[arg-type]

        reader = asyncio.create_task(read())
        await asyncio.sleep(seconds)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    ticks = []
    for arrived, text in arrivals:
        message = json.loads(text)
        if message.get("type") == "tick":
            tick = message["tick"]
            ms = _exchange_ms(tick["received_at"])
            ticks.append([tick["token"], ms, arrived, message["seq"], tick["symbol"], len(text)])
    print(json.dumps(ticks), flush=True)


class Client:
    """The client process: started, ready, then its ticks."""

    def __init__(self, processes: Processes, url: str, symbols: list[str], seconds: float):
        self.processes = processes
        command = [sys.executable, RUN, "--client", url, ",".join(symbols), str(seconds)]
        self.process = processes.start(
            "client", command, env=dict(os.environ), stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("ready "):
            raise RuntimeError(f"The client did not start:\n{processes.log_of(self.process)}")
        self.ready_ns = int(line.split()[1])

    def ticks(self) -> list[list[Any]]:
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        status = self.process.wait(60)
        if status != 0:
            raise RuntimeError(f"The client failed:\n{self.processes.log_of(self.process)}")
        self.processes.stop(self.process)
        return json.loads(out)


# --- The bare relay (a separate process) -----------------------------------------------------

QUOTE_LAYOUT = "<BB25sqqqqqqddqqqq"  # SmartAPI's QUOTE frame (docs/angel-one.md)


async def relay_run(config_file: str, fd: int) -> None:
    """Subscribe the instruments at the peer (1,000 tokens per connection), and forward each
    frame of a token some client asked for as a JSON tick message of our shape."""
    import socket
    import struct
    from http import HTTPStatus

    import websockets
    from websockets.asyncio.client import connect

    config = json.loads(Path(config_file).read_text())
    instruments: dict[str, list[Any]] = config["instruments"]  # token -> [symbol, exch, type]
    token_of = {symbol: token for token, (symbol, _, _) in instruments.items()}
    listeners: dict[str, set[Any]] = defaultdict(set)
    seq: dict[str, int] = defaultdict(int)
    quote = struct.Struct(QUOTE_LAYOUT)

    async def serve_client(connection: Any) -> None:
        joined: list[str] = []
        try:
            async for text in connection:
                request = json.loads(text)
                symbols = [s for s in request.get("symbols", []) if s in token_of]
                for symbol in symbols:
                    listeners[token_of[symbol]].add(connection)
                    joined.append(token_of[symbol])
                await connection.send(
                    json.dumps({"type": "snapshot", "symbols": symbols, "ticks": []})
                )
        finally:
            for token in joined:
                listeners[token].discard(connection)

    def health(connection: Any, request: Any) -> Any:
        return connection.respond(HTTPStatus.OK, "ok\n") if request.path == "/health" else None

    def forward(frame: bytes) -> None:
        if len(frame) != quote.size:
            return
        (_, ex_type, raw, _, ms, ltp, _, _, volume, _, _, op, hi, lo, cl) = quote.unpack(frame)
        token = raw.split(b"\0", 1)[0].decode()
        clients = listeners.get(token)
        if not clients:
            return
        symbol, exchange, _ = instruments[token]
        seq[token] += 1
        at = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()[:-6] + "Z"
        ltpc, close = ltp / 100, cl / 100
        tick = {
            "symbol": symbol, "token": token, "exchange": exchange, "exchange_type": ex_type,
            "ltpc": ltpc, "ch": round(ltpc - close, 2),
            "chp": round((ltpc - close) / close * 100, 2) if close else None,
            "open": op / 100, "high": hi / 100, "low": lo / 100, "close": close,
            "volume": volume, "received_at": at, "source": "angelone", "data_quality": "GOOD",
            "is_realtime": True, "depth": None,
        }  # fmt: skip
        message = {"type": "tick", "seq": seq[token], "tick": tick}
        websockets.broadcast(clients, json.dumps(message, separators=(",", ":")))

    async def upstream(index: int, tokens: list[str]) -> None:
        async with connect(
            config["ws_url"],
            additional_headers=config["headers"],
            ping_interval=None,
            compression=None,  # as run_feed connects
        ) as ws:
            for start in range(0, len(tokens), 250):
                by_type: dict[int, list[str]] = defaultdict(list)
                for token in tokens[start : start + 250]:
                    by_type[instruments[token][2]].append(token)
                request = {
                    "correlationID": f"relay{index}",
                    "action": 1,
                    "params": {
                        "mode": 2,
                        "tokenList": [{"exchangeType": t, "tokens": v} for t, v in by_type.items()],
                    },
                }
                await ws.send(json.dumps(request))
            async for frame in ws:
                if isinstance(frame, bytes):
                    forward(frame)

    tokens = list(instruments)
    shares = [tokens[start : start + 1000] for start in range(0, len(tokens), 1000)]
    sock = socket.socket(fileno=fd)
    async with websockets.serve(serve_client, sock=sock, process_request=health, compression=None):
        await asyncio.gather(*(upstream(i, share) for i, share in enumerate(shares)))
