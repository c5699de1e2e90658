"""A local Angel One SmartAPI peer: the REST API (login, candles) and the WebSocket 2.0 stream.

It answers the way the real service does, as far as its documentation and observed
responses go: the login, profile and token-refresh envelopes (including their error shapes),
`getCandleData` (one-minute candles whose prices tell the minutes apart, see `peer_candle`),
401 at the WebSocket handshake for a rejected session, subscribe/unsubscribe JSON, the text
`ping` -> `pong` heartbeat, and binary frames built to the documented layout.

It runs in two background threads (an HTTP server and an asyncio WebSocket server), both on
127.0.0.1 with ports chosen by the OS, so sync and async tests can use it alike. Tests steer
it with `drop_connections()`, `expire_sessions()`, `send_garbage()`, `mute()` and read what
it saw (`logins`, `refreshes`, `handshakes`, `subscribe_messages`, `max_connections`,
`candle_requests`).

By default each connection sends a frame for every subscribed token at once, every
`tick_interval` seconds, stamped from one clock shared by all streams. `paced=True` (used by
bench/latency) spreads each connection's frames evenly over the interval, as a real feed
flows, and stamps each token from its own clock: the wall clock's millisecond, later than the
token's previous frame, so thousands of tokens a second stay at the wall clock. `on_send`,
when given, is called as each frame is about to be written, with (token, exchange time in ms,
`time.time_ns()`).
"""

import asyncio
import contextlib
import json
import random
import secrets
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import jwt
import pyotp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from marketdata.feed.angelone.frames import FRAME_SIZES, LTP, QUOTE, TOKEN_BYTES, pack_frame
from marketdata.market_calendar import IST
from testing import http

LOGIN_PATH = "/rest/auth/angelbroking/user/v1/loginByPassword"
PROFILE_PATH = "/rest/secure/angelbroking/user/v1/getProfile"
REFRESH_PATH = "/rest/auth/angelbroking/jwt/v1/generateTokens"
CANDLE_PATH = "/rest/secure/angelbroking/historical/v1/getCandleData"
MAX_TOKENS_PER_CONNECTION = 1000
PACED_SLICE_SECONDS = 0.002  # a paced connection sends the frames due every 2 ms

# Plausible index levels in paise, so generated frames look like the real feed.
LEVELS = {
    "99926000": 2_245_000,
    "99926009": 4_810_000,
    "99926037": 2_160_000,
    "99926074": 1_150_000,
    "99919000": 7_390_000,
    "99919012": 5_420_000,
}


@dataclass(frozen=True)
class PeerCredentials:
    api_key: str = "peer-api-key"
    client_id: str = "P100200"
    password: str = "4321"
    totp_key: str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    def as_settings(self) -> dict[str, str]:
        return {
            "ANGEL_ONE_API_KEY": self.api_key,
            "ANGEL_ONE_CLIENT_ID": self.client_id,
            "ANGEL_ONE_PASSWORD": self.password,
            "ANGEL_ONE_TOTP_KEY": self.totp_key,
        }


@dataclass
class _Session:
    jwt: str
    feed_token: str
    refresh_token: str
    valid: bool = True


@dataclass(eq=False)  # hashed by identity, kept in a set
class _Connection:
    socket: ServerConnection
    subscriptions: dict[str, tuple[int, int]] = field(default_factory=dict)  # token -> (mode, ex)


def random_frame(
    rng: random.Random, *, mode: int, token: str, exchange_type: int, sequence: int, at_ms: int
) -> bytes:
    """A well-formed frame with plausible random values (shared by tests and bench)."""
    level = LEVELS.get(token, 100_000)
    ltp = level + rng.randint(-level // 50, level // 50)
    head = (mode, exchange_type, token.encode().ljust(TOKEN_BYTES, b"\0"), sequence, at_ms, ltp)
    if mode == LTP:
        return pack_frame(mode, head)
    quote = (
        rng.randint(0, 5_000),
        ltp + rng.randint(-500, 500),
        rng.randint(0, 10**9),
        float(rng.randint(0, 10**7)),
        float(rng.randint(0, 10**7)),
        ltp - rng.randint(0, 9_000),
        ltp + rng.randint(0, 9_000),
        ltp - rng.randint(9_000, 20_000),
        ltp - rng.randint(-20_000, 20_000),
    )
    if mode == QUOTE:
        return pack_frame(mode, head + quote)
    levels: tuple[int, ...] = ()
    for index in range(10):
        levels += (1 if index < 5 else 0, rng.randint(0, 10**5), ltp + rng.randint(-99, 99), 7)
    snap = (at_ms // 1000, rng.randint(0, 10**8), rng.randint(-(10**4), 10**4))
    limits = (ltp * 11 // 10, ltp * 9 // 10, ltp * 12 // 10, ltp * 8 // 10)
    return pack_frame(mode, head + quote + snap + levels + limits)


def peer_candle(minute: datetime) -> list[Any]:
    """The peer's one-minute candle for `minute`: prices that tell minutes apart."""
    base = 23_000 + minute.hour * 100 + minute.minute
    stamp = minute.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30")
    return [stamp, base + 0.5, base + 3.0, base - 2.0, base + 1.25, 0]


def self_signed_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and a client
    context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "angelone-peer")])
    now = datetime.now(tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "cert.pem").write_bytes(cert_pem)
        (Path(folder) / "key.pem").write_bytes(key_pem)
        server.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


def garbage_frames(rng: random.Random, count: int) -> Iterator[bytes]:
    """Truncated, oversized and unknown-mode frames, in turn."""
    good = random_frame(rng, mode=QUOTE, token="99926000", exchange_type=1, sequence=1, at_ms=1)
    for index in range(count):
        kind = index % 4
        if kind == 0:
            yield good[: rng.randint(1, FRAME_SIZES[QUOTE] - 1)]
        elif kind == 1:
            yield good + bytes(rng.randint(1, 64))
        elif kind == 2:
            yield bytes([9]) + good[1:]
        else:
            yield b""


class AngelOnePeer:
    def __init__(
        self,
        *,
        credentials: PeerCredentials | None = None,
        tick_interval: float = 0.02,
        tls: ssl.SSLContext | None = None,
        paced: bool = False,
        on_send: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.credentials = credentials or PeerCredentials()
        self.tls = tls
        self.tick_interval = tick_interval
        self.paced = paced
        self.on_send = on_send
        self.session_seconds = 3600.0
        self.signing_key = secrets.token_hex(16)
        self.logins = 0
        self.failed_logins: list[str] = []
        self.refreshes = 0
        self.handshakes: list[int] = []
        self.subscribe_messages: list[dict[str, Any]] = []
        self.candle_requests: list[tuple[float, dict[str, Any]]] = []  # (monotonic time, body)
        self.garbage_sent = 0
        self.frames_sent: Counter[str] = Counter()
        self.max_connections = 0
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._sequence = 0
        self._last_ms = 0
        self._token_ms: dict[str, int] = {}  # paced: each token's last exchange time
        self._muted = False
        self._lock = threading.Lock()
        self._rng = random.Random(7)
        self._loop = asyncio.new_event_loop()
        self._http = http.JsonServer(self._answer)
        self._threads: list[threading.Thread] = []
        self._ws_server: Any = None

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self._http.url

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}://127.0.0.1:{self._ws_server.sockets[0].getsockname()[1]}/smart-stream"

    def start(self) -> "AngelOnePeer":
        ready = threading.Event()
        self._http.start()
        self._threads = [threading.Thread(target=self._run_loop, args=(ready,), daemon=True)]
        for thread in self._threads:
            thread.start()
        if not ready.wait(10):
            raise RuntimeError("the peer's WebSocket server did not start")
        return self

    def stop(self) -> None:
        self._http.stop()
        asyncio.run_coroutine_threadsafe(self._close_server(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        for thread in self._threads:
            thread.join(10)

    def _run_loop(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open_server())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open_server(self) -> None:
        self._ws_server = await serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            process_request=self._check_handshake,
            ping_interval=None,
            ssl=self.tls,
        )

    async def _close_server(self) -> None:
        self._ws_server.close()
        await self._ws_server.wait_closed()

    # --- hooks for tests -------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Cut every stream without a closing handshake, as a network failure would."""
        self._call(lambda: [c.socket.transport.abort() for c in list(self._connections)])

    def expire_sessions(self) -> None:
        """End every session (as Angel One does overnight) and close the streams."""
        with self._lock:
            for session in self._sessions.values():
                session.valid = False
        self.drop_connections()

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

    # --- REST ------------------------------------------------------------------------------
    def _answer(self, request: http.Request) -> tuple[int, dict[str, Any]]:
        route = (request.method, request.path)
        if route == ("POST", LOGIN_PATH):
            return self.login(request.headers, request.body)
        if route == ("POST", REFRESH_PATH):
            return self.refresh(request.headers, request.body)
        if route == ("POST", CANDLE_PATH):
            return self.candles(request.headers, request.body)
        if route == ("GET", PROFILE_PATH):
            return self.profile(request.headers)
        return 404, {"status": False, "message": "Not Found", "errorcode": "", "data": None}

    def issue_session(self) -> _Session:
        def token(kind: str) -> str:
            claims = {
                "sub": self.credentials.client_id,
                "kind": kind,
                "nonce": secrets.token_hex(4),
            }
            claims["exp"] = int(time.time() + self.session_seconds)
            return jwt.encode(claims, self.signing_key, algorithm="HS256")

        session = _Session(jwt=token("jwt"), feed_token=token("feed"), refresh_token=token("ref"))
        with self._lock:
            self._sessions[session.jwt] = session
        return session

    def valid_session(self, authorization: str | None) -> _Session | None:
        raw = (authorization or "").removeprefix("Bearer ").strip()
        with self._lock:
            session = self._sessions.get(raw)
        return session if session and session.valid else None

    def login(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        creds = self.credentials
        if headers.get("X-PrivateKey") != creds.api_key:
            return 200, {
                "success": False,
                "message": "Invalid API Key",
                "errorCode": "AG8004",
                "data": "",
            }
        problem = None
        if body.get("clientcode") != creds.client_id:
            problem = ("Invalid clientcode", "AB1001")  # wording as the service reports it
        elif body.get("password") != creds.password:
            problem = ("Invalid Password", "AB1000")
        elif not pyotp.TOTP(creds.totp_key).verify(str(body.get("totp", "")), valid_window=1):
            problem = ("Invalid totp", "AB1050")
        if problem:
            self.failed_logins.append(problem[1])
            return 200, {
                "status": False,
                "message": problem[0],
                "errorcode": problem[1],
                "data": None,
            }
        self.logins += 1
        return 200, _success(self._token_data(self.issue_session()))

    def profile(self, headers: Any) -> tuple[int, dict[str, Any]]:
        if self.valid_session(headers.get("Authorization")) is None:
            return 403, _invalid_token()
        data = {
            "clientcode": self.credentials.client_id,
            "name": "PEER TRADER",
            "email": "",
            "mobileno": "",
            "exchanges": ["nse_cm", "bse_cm", "nse_fo"],
            "products": ["MARGIN", "MIS", "NRML", "CNC", "CO", "BO"],
            "lastlogintime": "",
            "brokerid": "B2C",
        }
        return 200, _success(data)

    def refresh(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        current = self.valid_session(headers.get("Authorization"))
        if current is None:
            return 403, _invalid_token()
        if body.get("refreshToken") != current.refresh_token:
            return 200, {
                "status": False,
                "message": "Invalid Refresh Token",
                "errorcode": "AB8050",
                "data": None,
            }
        self.refreshes += 1
        return 200, _success(self._token_data(self.issue_session()))

    def candles(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`getCandleData`: a `peer_candle` for each minute from `fromdate` to `todate` (IST)."""
        if self.valid_session(headers.get("Authorization")) is None:
            return 403, _invalid_token()
        self.candle_requests.append((time.monotonic(), body))
        first = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        last = datetime.strptime(body["todate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        count = int((last - first).total_seconds()) // 60 + 1
        return 200, _success([peer_candle(first + timedelta(minutes=i)) for i in range(count)])

    @staticmethod
    def _token_data(session: _Session) -> dict[str, Any]:
        return {
            "jwtToken": session.jwt,
            "refreshToken": session.refresh_token,
            "feedToken": session.feed_token,
            "state": None,
        }

    # --- WebSocket -------------------------------------------------------------------------
    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = request.headers
        session = self.valid_session(headers.get("Authorization"))
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


def _success(data: Any) -> dict[str, Any]:
    return {"status": True, "message": "SUCCESS", "errorcode": "", "data": data}


def _invalid_token() -> dict[str, Any]:
    return {"success": False, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}


def _error(correlation_id: str, code: str, message: str) -> str:
    return json.dumps({"correlationID": correlation_id, "errorCode": code, "errorMessage": message})
