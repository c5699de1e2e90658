"""`/ws`: live ticks per subscribed symbol, and signal events, for clients with an access token.

The protocol, its limits and its close codes are described in docs/live-push.md.
"""

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from accounts.services import REVOKED_SESSION, access_token_user
from marketdata import demand, selectors
from marketdata.live import publish
from marketdata.live.daphne_socket import DaphneSocket
from marketdata.live.layer import FanoutChannelLayer
from marketdata.live.render import tick_render
from trading_signals.wire import json_render

UNAUTHORIZED = 4401
TOO_MANY_REQUESTS = 4429
BEARER = "bearer"
PUSHED = frozenset({"tick.message", "signal.message"})  # pre-rendered by live/publish.py


class _AuthError(Exception):
    pass


def _offered_token(scope: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(token, subprotocol to accept): from `bearer, <token>` subprotocols, else `?token=`."""
    subprotocols = scope.get("subprotocols") or []
    if len(subprotocols) >= 2 and subprotocols[0].lower() == BEARER:
        return subprotocols[1], subprotocols[0]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [None])[0], None


def _authenticate(raw_token: str | None) -> tuple[Any, datetime]:
    """The active user an access token names, and when the token expires."""
    if not raw_token:
        raise _AuthError("An access token is required: ?token=<access> or 'bearer, <access>'.")
    try:
        # The REST API's rules: signature, expiry, token type, and revocation.
        return access_token_user(raw_token=raw_token)
    except (TokenError, InvalidToken, AuthenticationFailed) as error:
        raise _AuthError(f"Invalid access token: {_first_message(error)}") from None


def _first_message(error: Exception) -> str:
    detail = getattr(error, "detail", None)
    if isinstance(detail, dict):
        return str(detail.get("detail", error))
    return str(detail or error)


def _snapshot_text(symbols: Sequence[str]) -> str:
    ticks = [tick_render(tick) for tick in selectors.latest_ticks(symbols=symbols)]
    return json_render({"type": "snapshot", "symbols": list(symbols), "ticks": ticks})


@dataclass
class _RateLimiter:
    """A token bucket: `burst` messages at once, then `rate` a second."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)
    refused: int = 0  # in a row: a client that keeps sending while refused is flooding

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0
            return True
        self.refused += 1
        return False


class _ClientError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LiveConsumer(AsyncWebsocketConsumer):
    user: Any = None
    symbols: set[str]

    async def connect(self) -> None:
        raw_token, subprotocol = _offered_token(self.scope)
        self.symbols = set()
        self.limiter = _RateLimiter(settings.WS_RATE_LIMIT_PER_SECOND, settings.WS_RATE_LIMIT_BURST)
        self.socket = DaphneSocket(self.base_send, high_water=settings.WS_SEND_BUFFER_BYTES)
        self.expiry: asyncio.Task[None] | None = None
        self.holding = False  # a snapshot or an older message is on its way: no fast path
        try:
            user, expires_at = await database_sync_to_async(_authenticate)(raw_token)
        except _AuthError as error:
            # Close codes need an open WebSocket: before accept, daphne can only answer 403.
            await self.accept(subprotocol)
            await self._refuse(UNAUTHORIZED, "unauthorized", str(error))
            return
        if isinstance(self.channel_layer, FanoutChannelLayer):
            self.channel_layer.fast_path_set(self.channel_name, self._push_now)
        # Joined before the handshake completes: a client never misses an event sent after it.
        await self.channel_layer.group_add(publish.SIGNALS_GROUP, self.channel_name)
        await self.channel_layer.group_add(publish.user_group(user.pk), self.channel_name)
        self.user = user
        try:
            # Again, now that a revocation would reach this connection: one committed between
            # the first check and joining the user's group is caught here.
            await database_sync_to_async(_authenticate)(raw_token)
        except _AuthError as error:
            await self.accept(subprotocol)
            await self._refuse(UNAUTHORIZED, "unauthorized", str(error))
            return
        await self.accept(subprotocol)
        delay = (expires_at - datetime.now(tz=UTC)).total_seconds()
        self.expiry = asyncio.create_task(self._expire_after(delay))

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        # The feed keeps streaming them for LIVE_DEMAND_GRACE_SECONDS, unless others hold them.
        demand.demand_release(holder=self.channel_name)
        groups = [publish.SIGNALS_GROUP, *map(publish.tick_group, self.symbols)]
        if self.user is not None:
            groups.append(publish.user_group(self.user.pk))
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None:
            return
        if not self.limiter.allow():
            await self._rate_limited()
            return
        try:
            request = self._parse(text_data if text_data is not None else bytes_data or b"")
            await self._handle(request)
        except _ClientError as error:
            await self._error(error.code, error.message)

    # --- Client actions --------------------------------------------------------------------

    async def _handle(self, request: dict[str, Any]) -> None:
        action = request.get("action")
        if action == "ping":
            await self.send(text_data='{"type":"pong"}')
        elif action == "subscribe":
            await self._subscribe(self._symbols_in(request), self._mode_in(request))
        elif action == "unsubscribe":
            await self._unsubscribe(self._symbols_in(request))
        else:
            raise _ClientError("unknown_action", "action must be subscribe, unsubscribe or ping.")

    async def _subscribe(self, symbols: list[str], mode: str | None) -> None:
        new = [symbol for symbol in symbols if symbol not in self.symbols]
        if len(self.symbols) + len(new) > settings.WS_MAX_SYMBOLS:
            raise _ClientError(
                "too_many_symbols", f"At most {settings.WS_MAX_SYMBOLS} subscriptions at once."
            )
        unknown = await database_sync_to_async(selectors.unknown_symbols)(symbols=new)
        if unknown:
            raise _ClientError("unknown_symbol", f"Unknown symbols: {', '.join(unknown)}.")
        # Hold before joining: the feed streams any symbol of the instrument master once a
        # client wants it (within a second), and ticks flow to the group from then on.
        try:
            await database_sync_to_async(demand.demand_hold)(
                holder=self.channel_name, symbols=new, mode=mode
            )
        except demand.DemandFullError as full:
            raise _ClientError("subscription_limit", str(full)) from None
        # Join first, then read: a tick stored meanwhile is in the snapshot, the stream or both,
        # and ticks wait in the mailbox until the snapshot is out.
        self.holding = True
        try:
            for symbol in new:
                await self.channel_layer.group_add(publish.tick_group(symbol), self.channel_name)
                self.symbols.add(symbol)
            await self.send(text_data=await database_sync_to_async(_snapshot_text)(new))
        finally:
            self.holding = False

    async def _unsubscribe(self, symbols: list[str]) -> None:
        leaving = set(symbols) & self.symbols
        for symbol in leaving:
            self.symbols.discard(symbol)
            await self.channel_layer.group_discard(publish.tick_group(symbol), self.channel_name)
        if leaving:
            demand.demand_release(holder=self.channel_name, symbols=leaving)

    # --- Messages from the channel layer ---------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, through a hop to
        # its one sync thread; pushed ticks and signals never touch the database, and that
        # hop (serialized across all clients) was most of the fan-out latency in bench/ws.
        if message["type"] in PUSHED:
            await self._send_when_drained(message["text"])
        else:
            await super().dispatch(message)

    async def token_expired(self, event: dict[str, Any]) -> None:
        await self._refuse(UNAUTHORIZED, "token_expired", "The access token has expired.")

    async def tokens_revoked(self, event: dict[str, Any]) -> None:
        await self._refuse(UNAUTHORIZED, "token_revoked", REVOKED_SESSION)

    def _push_now(self, message: dict[str, Any]) -> bool:
        return (
            not self.holding
            and message["type"] in PUSHED
            and self.socket.send_if_ready(message["text"])
        )

    async def _send_when_drained(self, text: str) -> None:
        """Hold a message while the client is slow; meanwhile its mailbox in the channel layer
        fills, and from then on a newer tick of a symbol replaces an older unsent one."""
        self.holding = True
        try:
            while self.socket.is_slow():
                if self.socket.is_gone():
                    return
                await asyncio.sleep(settings.WS_SLOW_CLIENT_POLL_SECONDS)
            await self.send(text_data=text)
        finally:
            self.holding = False

    async def _expire_after(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0))
        await self.channel_layer.send(self.channel_name, {"type": "token.expired"})

    # --- Helpers ---------------------------------------------------------------------------

    def _parse(self, raw: str | bytes) -> dict[str, Any]:
        if len(raw) > settings.WS_MAX_MESSAGE_BYTES:
            raise _ClientError(
                "message_too_large",
                f"Messages are limited to {settings.WS_MAX_MESSAGE_BYTES} bytes.",
            )
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _ClientError("invalid_json", "Messages must be JSON objects.") from None
        if not isinstance(request, dict):
            raise _ClientError("invalid_json", "Messages must be JSON objects.")
        return request

    @staticmethod
    def _symbols_in(request: dict[str, Any]) -> list[str]:
        symbols = request.get("symbols")
        if (
            not isinstance(symbols, list)
            or not symbols
            # A NUL can be neither stored nor looked up (PostgreSQL refuses it in text).
            or not all(
                isinstance(symbol, str) and symbol.strip() and "\x00" not in symbol
                for symbol in symbols
            )
        ):
            raise _ClientError("invalid_symbols", "symbols must be a non-empty list of symbols.")
        if len(symbols) > settings.WS_MAX_SYMBOLS:
            raise _ClientError(
                "too_many_symbols", f"At most {settings.WS_MAX_SYMBOLS} symbols per message."
            )
        return list(dict.fromkeys(symbol.strip().upper() for symbol in symbols))

    @staticmethod
    def _mode_in(request: dict[str, Any]) -> str | None:
        mode = request.get("mode")
        if mode is not None and mode not in demand.MODES:
            raise _ClientError("invalid_mode", f"mode must be one of {', '.join(demand.MODES)}.")
        return cast(str | None, mode)

    async def _rate_limited(self) -> None:
        if self.limiter.refused > self.limiter.burst:
            await self._refuse(TOO_MANY_REQUESTS, "rate_limited", "Too many messages; closing.")
        elif self.limiter.refused == 1:
            await self._error("rate_limited", "Too many messages: this one was ignored.")

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=json_render({"type": "error", "code": code, "message": message}))

    async def _refuse(self, close_code: int, code: str, message: str) -> None:
        self.user = None
        await self._error(code, message)
        if not self.socket.close_with_reason(close_code, message):
            await self.close(close_code, message)
