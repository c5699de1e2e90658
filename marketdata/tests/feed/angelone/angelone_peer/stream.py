"""The peer's WebSocket 2.0 stream: the handshake (401 for a rejected session),
subscribe/unsubscribe JSON, the text `ping` -> `pong` heartbeat, and binary frames built to
the documented layout, sent every `tick_interval` (all at once, or `paced` over it)."""

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from marketdata.tests.feed.angelone.angelone_peer.frames import garbage_frames, random_frame

MAX_TOKENS_PER_CONNECTION = 1000
PACED_SLICE_SECONDS = 0.002  # a paced connection sends the frames due every 2 ms


@dataclass(eq=False)  # hashed by identity, kept in a set
class _Connection:
    socket: ServerConnection
    subscriptions: dict[str, tuple[int, int]] = field(default_factory=dict)  # token -> (mode, ex)


class PeerStream:
    """The WebSocket half of `AngelOnePeer` (a mixin: it accepts the REST half's sessions and
    runs on the peer's event loop, `self._loop`)."""

    def _stream_init(
        self, *, tick_interval: float, paced: bool, on_send: Callable[[str, int, int], None] | None
    ) -> None:
        self.tick_interval = tick_interval
        self.paced = paced
        self.on_send = on_send
        self.handshakes: list[int] = []
        self.subscribe_messages: list[dict[str, Any]] = []
        self.garbage_sent = 0
        self.frames_sent: Counter[str] = Counter()
        self.max_connections = 0
        self._connections: set[_Connection] = set()
        self._sequence = 0
        self._last_ms = 0
        self._token_ms: dict[str, int] = {}  # paced: each token's last exchange time
        self._muted = False
        self._rng = random.Random(7)
        self._loop = asyncio.new_event_loop()

    # --- hooks for tests -------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Cut every stream without a closing handshake, as a network failure would."""
        self._call(lambda: [c.socket.transport.abort() for c in list(self._connections)])

    def send_garbage(self, count: int) -> None:
        frames = list(garbage_frames(self._rng, count))
        self.garbage_sent += count
        asyncio.run_coroutine_threadsafe(self._send_all(frames), self._loop).result(10)

    def mute(self, muted: bool = True) -> None:
        """Stop (or resume) sending frames and answering pings, keeping sockets open."""
        self._muted = muted

    @property
    def connections(self) -> int:
        return len(self._connections)

    def subscribed_tokens(self) -> set[str]:
        return {token for c in list(self._connections) for token in c.subscriptions}

    def _call(self, action: Any) -> None:
        self._loop.call_soon_threadsafe(action)

    async def _send_all(self, frames: list[bytes]) -> None:
        for connection in list(self._connections):
            with contextlib.suppress(ConnectionClosed):
                for frame in frames:
                    await connection.socket.send(frame)

    # --- the stream ------------------------------------------------------------------------
    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = request.headers
        session = self.valid_session(headers.get("Authorization"))  # PeerRest's
        accepted = (
            session is not None
            and headers.get("x-api-key") == self.credentials.api_key
            and headers.get("x-client-code") == self.credentials.client_id
            and headers.get("x-feed-token") == session.feed_token
        )
        self.handshakes.append(101 if accepted else 401)
        if accepted:
            return None
        response = connection.respond(401, "Unauthorized\n")
        response.headers["x-error-message"] = "Invalid Headers"
        return response

    async def _serve_connection(self, socket: ServerConnection) -> None:
        connection = _Connection(socket)
        self._connections.add(connection)
        self.max_connections = max(self.max_connections, len(self._connections))
        streamer = asyncio.ensure_future(self._stream(connection))
        try:
            async for message in socket:
                await self._on_message(connection, message)
        except ConnectionClosed:
            pass
        finally:
            streamer.cancel()
            self._connections.discard(connection)

    async def _on_message(self, connection: _Connection, message: str | bytes) -> None:
        if message == "ping":
            if not self._muted:
                await connection.socket.send("pong")
            return
        try:
            request = json.loads(message)
            action, params = request["action"], request["params"]
            mode, token_list = params["mode"], params["tokenList"]
        except (ValueError, KeyError, TypeError):
            await connection.socket.send(_error("", "E1001", "Invalid Request Payload."))
            return
        self.subscribe_messages.append(request)
        for group in token_list:
            for token in group["tokens"]:
                if action == 1:
                    connection.subscriptions[str(token)] = (mode, group["exchangeType"])
                else:
                    connection.subscriptions.pop(str(token), None)
        if len(connection.subscriptions) > MAX_TOKENS_PER_CONNECTION:
            correlation = request.get("correlationID", "")
            await connection.socket.send(
                _error(correlation, "E1002", "Invalid Request. Subscription Limit Exceeded.")
            )

    async def _stream(self, connection: _Connection) -> None:
        if self.paced:
            await self._stream_paced(connection)
            return
        while True:
            await asyncio.sleep(self.tick_interval)
            if self._muted:
                continue
            for token, (mode, exchange_type) in list(connection.subscriptions.items()):
                await self._send_frame(connection, token, mode, exchange_type)

    async def _stream_paced(self, connection: _Connection) -> None:
        """Every token once per `tick_interval`, the frames spread evenly over it."""
        loop = asyncio.get_running_loop()
        cycle_start = loop.time()
        while True:
            interval = self.tick_interval
            items = list(connection.subscriptions.items())
            slices = max(1, min(len(items), round(interval / PACED_SLICE_SECONDS)))
            for index in range(slices):
                await asyncio.sleep(cycle_start + (index + 1) * interval / slices - loop.time())
                if self._muted:
                    continue
                share = items[index * len(items) // slices : (index + 1) * len(items) // slices]
                for token, (mode, exchange_type) in share:
                    if token in connection.subscriptions:  # not unsubscribed meanwhile
                        await self._send_frame(connection, token, mode, exchange_type)
            # Behind by more than a cycle (a stalled loop): start afresh rather than burst.
            cycle_start = max(cycle_start + interval, loop.time() - interval)

    async def _send_frame(
        self, connection: _Connection, token: str, mode: int, exchange_type: int
    ) -> None:
        at_ms = self._stamp(token)
        frame = random_frame(
            self._rng,
            mode=mode,
            token=token,
            exchange_type=exchange_type,
            sequence=self._sequence,
            at_ms=at_ms,
        )
        if self.on_send is not None:
            self.on_send(token, at_ms, time.time_ns())
        await connection.socket.send(frame)

    def _stamp(self, token: str) -> int:
        """The next frame's exchange time (ms). One sequence for all streams; one clock for
        all streams by default (a reconnect never repeats a timestamp), one per token paced."""
        self._sequence += 1
        self.frames_sent[token] += 1
        now_ms = int(time.time() * 1000)
        if self.paced:
            at_ms = self._token_ms[token] = max(now_ms, self._token_ms.get(token, 0) + 1)
            return at_ms
        self._last_ms = max(now_ms, self._last_ms + 1)
        return self._last_ms


def _error(correlation_id: str, code: str, message: str) -> str:
    return json.dumps({"correlationID": correlation_id, "errorCode": code, "errorMessage": message})
