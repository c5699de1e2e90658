"""WebSocket clients of the live push tests, and ticks to publish to them."""

import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from marketdata.ticks import Tick

TOKENS = {"NIFTY": "99926000", "BANKNIFTY": "99926009", "SENSEX": "99919000"}


def access_token(user: Any, *, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def open_ws(url: str, token: str | None = None, **options: Any) -> ClientConnection:
    return connect(url if token is None else f"{url}?token={token}", open_timeout=10, **options)


def open_slow_ws(url: str, token: str) -> ClientConnection:
    """A client that reads one message at a time into a tiny socket buffer."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    return connect(f"{url}?token={token}", sock=sock, max_queue=1, open_timeout=10)


def recv_json(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def send_json(ws: ClientConnection, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message))


def recv_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> list[dict[str, Any]]:
    """Every message up to and including the first for which `done` is true."""
    deadline = time.monotonic() + timeout
    received = []
    while True:
        message = recv_json(ws, timeout=max(deadline - time.monotonic(), 0.01))
        received.append(message)
        if done(message):
            return received


def subscribe(ws: ClientConnection, *symbols: str) -> dict[str, Any]:
    send_json(ws, {"action": "subscribe", "symbols": list(symbols)})
    return recv_json(ws)


def close_code(ws: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """Read until the server closes; the close code and reason it sent."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason


def tick(symbol: str, ltpc: float, **fields: Any) -> Tick:
    return Tick(
        token=TOKENS[symbol],
        symbol=symbol,
        ltpc=ltpc,
        received_at=datetime.now(tz=UTC),
        exchange="BSE" if symbol == "SENSEX" else "NSE",
        **fields,
    )
