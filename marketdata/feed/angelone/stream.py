"""The Angel One SmartAPI source: live ticks from the SmartAPI WebSocket 2.0 stream.

Login and token refresh go through smartapi-python (session.py, keeper.py); the WebSocket client and
the frame parser are our own: TLS is verified (smartapi-python's client turns it off), a bad
frame is counted and skipped (theirs raises and reconnects), and nothing logs secrets.

- Heartbeat: the text `ping` every 10 s, answered by `pong` (as Angel One's JavaScript SDK
  does). No frame and no pong for `silence_timeout` seconds (30) means a dead connection.
- Any drop or silence: reconnect after an exponential backoff with full jitter (a random wait
  up to min(cap, base * 2^attempt), 1 s and 60 s by default), then resubscribe everything.
- 401 at the handshake: the session or feed token was refused, so log in again (keeper.py).
- Up to 3 connections x 1,000 tokens (subscriptions.py). The set changes at runtime
  (`subscriptions_update`; with `follow_demand`, as the demand changes, see feed/base.py and
  marketdata/demand/): each open connection sends the
  unsubscribe (action 0) and subscribe (action 1) messages for its share at once, a token
  whose mode changes is unsubscribed in its old mode and subscribed in the new one, and new
  tokens go to the connection with the fewest, opening another (up to 3) when all carry
  1,000. A reconnect subscribes the connection's current share.
"""

import asyncio
import json
import logging
import ssl
from asyncio import FIRST_COMPLETED
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import Any

from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from marketdata.demand import Demand
from marketdata.feed.angelone.frames import MODES, FrameParser, Subscribable
from marketdata.feed.angelone.keeper import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    RETRYABLE,
    Backoff,
    SessionKeeper,
    retry_reason,
)
from marketdata.feed.angelone.session import (
    Credentials,
    LoginSession,
    SmartApiClient,
    stream_headers,
)
from marketdata.feed.angelone.subscriptions import (
    MAX_CONNECTIONS,
    SUBSCRIBE_BATCH,
    TOKENS_PER_CONNECTION,
    Slot,
    key_of,
    spread,
    subscription_request,
)
from marketdata.feed.base import DemandFollower, FollowsDemand, task_stop
from marketdata.feed.errors import FeedConfigurationError
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

PING_INTERVAL_SECONDS = 10.0
SILENCE_TIMEOUT_SECONDS = 30.0
REFRESH_MARGIN_SECONDS = 600.0
OPEN_TIMEOUT_SECONDS = 10.0
QUEUE_LIMIT = 20_000
MAX_BATCH = 1000


class AngelOneSource(FollowsDemand):
    name = "angelone"

    def __init__(
        self,
        *,
        instruments: Sequence[Subscribable],
        mode: str = "ltp",
        modes: Mapping[str, str] | None = None,
        follow_demand: bool = False,
        credentials: Credentials | None = None,
        api_url: str | None = None,
        ws_url: str | None = None,
        ping_interval: float = PING_INTERVAL_SECONDS,
        silence_timeout: float = SILENCE_TIMEOUT_SECONDS,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_cap: float = BACKOFF_CAP_SECONDS,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Missing credentials or too many instruments raise FeedConfigurationError here.

        `modes` maps symbols to their mode where it differs from `mode`. With
        `follow_demand` the instruments may be none, and the set follows the demand.
        """
        credentials = credentials or Credentials.from_settings()
        limit = TOKENS_PER_CONNECTION * MAX_CONNECTIONS
        if follow_demand and len(instruments) > limit:  # LIVE_DEMAND_MAX_INSTRUMENTS above it
            logger.error(
                "Angel One streams at most %d instruments: %d left out",
                limit,
                len(instruments) - limit,
            )
            instruments = list(instruments)[:limit]
        groups = spread(instruments) if instruments or not follow_demand else []
        self._mode = MODES[mode]
        modes = modes or {}
        self._slots = [
            Slot(index, {key_of(item): MODES[modes.get(item.symbol, mode)] for item in group})
            for index, group in enumerate(groups)
        ]
        self._ws_url = ws_url or settings.ANGEL_ONE_WS_URL
        self._ssl = (
            (ssl_context or ssl.create_default_context())
            if self._ws_url.startswith("wss:")
            else None
        )
        self._ping_interval = ping_interval
        self._silence_timeout = silence_timeout
        self._backoff = (backoff_base, backoff_cap)
        self._known = {str(item.token): item for item in instruments}
        self._parser = FrameParser(instruments=instruments, source=self.name)
        self.stats = self._parser.stats
        self.stats.update(
            logins=0, refreshes=0, reconnects=0, session_rejected=0, pongs=0, stream_errors=0
        )
        client = SmartApiClient(
            credentials=credentials, api_url=api_url or settings.ANGEL_ONE_API_URL
        )
        self._keeper = SessionKeeper(client, refresh_margin=refresh_margin, stats=self.stats)
        self._credentials = credentials
        self._queue: asyncio.Queue[Tick | BaseException] = asyncio.Queue(QUEUE_LIMIT)
        self._running = False
        self._closed = False
        self._requests = 0
        self._follower = (
            DemandFollower(default_mode=mode, apply=self.demand_apply, stats=self.stats)
            if follow_demand
            else None
        )

    @property
    def state(self) -> str:
        if self._closed:
            return "closed"
        states = [slot.state for slot in self._slots]
        for state in ("streaming", "reconnecting", "connecting"):
            if state in states:
                return state
        return "waiting" if self._running else "connecting"  # nothing to stream yet

    def subscriptions_update(self, wanted: Sequence[tuple[Subscribable, str]]) -> None:
        """Stream exactly `wanted` (instrument, mode name): the open connections send the
        unsubscribe and subscribe messages at once; new tokens go to the connection with the
        fewest (a new one, up to MAX_CONNECTIONS, when all carry TOKENS_PER_CONNECTION)."""
        desired: dict[tuple[int, str], tuple[Subscribable, int]] = {}
        for item, mode in wanted:
            key = key_of(item)
            rank = max(MODES[mode], desired[key][1] if key in desired else 0)
            desired[key] = (item, rank)
        limit = TOKENS_PER_CONNECTION * MAX_CONNECTIONS
        if len(desired) > limit:
            left_out = [item.symbol for item, _ in list(desired.values())[limit:]]
            logger.error(
                "Angel One streams at most %d instruments: %d left out (%s)",
                limit,
                len(left_out),
                ", ".join(left_out[:10]),
            )
            desired = dict(list(desired.items())[:limit])
        changed: set[int] = set()
        for slot in self._slots:
            for key, carried in list(slot.wanted.items()):
                if key not in desired:
                    del slot.wanted[key]
                    changed.add(slot.index)
                elif desired[key][1] != carried:
                    slot.wanted[key] = desired[key][1]
                    changed.add(slot.index)
        placed = {key for slot in self._slots for key in slot.wanted}
        for key, (_, rank) in desired.items():
            if key in placed:
                continue
            room = self._slot_with_room()
            if room is None:
                break  # cannot happen within the limit
            room.wanted[key] = rank
            changed.add(room.index)
        unknown = [item for item, _ in desired.values() if str(item.token) not in self._known]
        if unknown:
            # Known tokens are never forgotten: frames still in flight after an unsubscribe
            # are real ticks, not unknown tokens.
            self._known.update((str(item.token), item) for item in unknown)
            parser = FrameParser(instruments=list(self._known.values()), source=self.name)
            parser.stats = self.stats  # the counters go on
            self._parser = parser
        for slot in self._slots:
            if slot.index in changed:
                slot.changed.set()
                if self._running and slot.task is None:
                    self._slot_start(slot)

    def demand_apply(self, demand: Demand) -> None:
        self.subscriptions_update([(item.instrument, item.mode) for item in demand.instruments])

    def _slot_with_room(self) -> Slot | None:
        open_slots = [slot for slot in self._slots if len(slot.wanted) < TOKENS_PER_CONNECTION]
        if open_slots:
            return min(open_slots, key=lambda slot: len(slot.wanted))
        if len(self._slots) >= MAX_CONNECTIONS:
            return None
        slot = Slot(len(self._slots))
        self._slots.append(slot)
        return slot

    def _slot_start(self, slot: Slot) -> None:
        slot.task = asyncio.create_task(
            self._guard(self._connection(slot)), name=f"angelone-{slot.index}"
        )

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        self._running, self._closed = True, False
        tasks = [asyncio.create_task(self._guard(self._keeper.keep_fresh()))]
        if self._follower is not None:
            tasks.append(asyncio.create_task(self._guard(self._follower.run())))
        for slot in self._slots:
            if slot.wanted:
                self._slot_start(slot)
        try:
            while True:
                batch, failure = await self._next_batch()
                if batch:
                    yield batch
                if failure is not None:
                    raise failure
        finally:
            self._running = False
            tasks += [slot.task for slot in self._slots if slot.task is not None]
            for task in tasks:
                await task_stop(task)
            for slot in self._slots:
                slot.task, slot.state = None, "closed"
            self._closed = True

    async def _next_batch(self) -> tuple[list[Tick], BaseException | None]:
        item = await self._queue.get()
        batch: list[Tick] = []
        while not isinstance(item, BaseException):
            batch.append(item)
            if len(batch) >= MAX_BATCH or self._queue.empty():
                return batch, None
            item = self._queue.get_nowait()
        return batch, item

    async def _guard(self, job: Coroutine[Any, Any, None]) -> None:
        # A connection that cannot go on (refused credentials, a bug) ends the source loudly.
        try:
            await job
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await self._queue.put(exc)

    async def _connection(self, slot: Slot) -> None:
        backoff = Backoff(base=self._backoff[0], cap=self._backoff[1])
        index = slot.index
        while True:
            session = None
            try:
                session = await self._keeper.session()
                await self._stream(slot, session, backoff)
            except InvalidURI as exc:
                raise FeedConfigurationError("ANGEL_ONE_WS_URL", "is not a WebSocket URL") from exc
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status == 401:
                    self.stats["session_rejected"] += 1
                    self._keeper.reject(session)
                logger.warning("Angel One stream %d: handshake refused (HTTP %d)", index, status)
            except RETRYABLE as exc:
                logger.warning("Angel One stream %d lost: %s", index, retry_reason(exc))
            self.stats["reconnects"] += 1
            slot.state = "reconnecting"
            await asyncio.sleep(backoff.next())

    async def _stream(self, slot: Slot, session: LoginSession, backoff: Backoff) -> None:
        async with connect(
            self._ws_url,
            additional_headers=stream_headers(credentials=self._credentials, session=session),
            ssl=self._ssl,
            open_timeout=OPEN_TIMEOUT_SECONDS,
            ping_interval=None,  # Angel One's heartbeat is the text `ping`, not a control frame
            close_timeout=2,
            max_size=2**16,
            # Tick frames are 51 to 379 bytes of packed binary: deflate saves next to nothing
            # and costs both ends CPU on every frame (smartapi-python never asks for it).
            compression=None,
        ) as socket:
            on_wire: dict[tuple[int, str], int] = {}  # what this connection carries now
            slot.changed.clear()
            await self._sync(socket, slot, on_wire)  # a new connection: the current set
            slot.state = "streaming"
            slot.heard_at = asyncio.get_running_loop().time()
            tasks = {
                asyncio.create_task(self._follow(socket, slot, on_wire)),
                asyncio.create_task(self._receive(socket, slot, backoff)),
                asyncio.create_task(self._silence_watch(slot)),
            }
            pinger = asyncio.create_task(self._ping(socket))
            try:
                done, _ = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                for task in (pinger, *tasks):
                    task.cancel()
                await asyncio.gather(pinger, *tasks, return_exceptions=True)

    async def _follow(
        self, socket: ClientConnection, slot: Slot, on_wire: dict[tuple[int, str], int]
    ) -> None:
        while True:
            await slot.changed.wait()
            slot.changed.clear()
            await self._sync(socket, slot, on_wire)

    async def _sync(
        self, socket: ClientConnection, slot: Slot, on_wire: dict[tuple[int, str], int]
    ) -> None:
        """Send what turns `on_wire` into the slot's wanted set: unsubscribe (action 0, in
        the mode subscribed) what is gone or changes mode, then subscribe (action 1) the rest."""
        wanted = dict(slot.wanted)
        gone = [(key, mode) for key, mode in on_wire.items() if wanted.get(key) != mode]
        new = [(key, mode) for key, mode in wanted.items() if on_wire.get(key) != mode]
        for action, changes in ((0, gone), (1, new)):
            by_mode: dict[int, list[tuple[int, str]]] = defaultdict(list)
            for key, mode in changes:
                by_mode[mode].append(key)
            for mode, keys in by_mode.items():
                for start in range(0, len(keys), SUBSCRIBE_BATCH):
                    batch = keys[start : start + SUBSCRIBE_BATCH]
                    await socket.send(
                        json.dumps(
                            subscription_request(
                                slot.index, self._next_request(), action, mode, batch
                            )
                        )
                    )
                    for key in batch:
                        if action:
                            on_wire[key] = mode
                        else:
                            on_wire.pop(key, None)

    def _next_request(self) -> int:
        self._requests += 1
        return self._requests

    async def _ping(self, socket: ClientConnection) -> None:
        try:
            while True:
                await asyncio.sleep(self._ping_interval)
                await socket.send("ping")
        except ConnectionClosed:
            return

    async def _receive(self, socket: ClientConnection, slot: Slot, backoff: Backoff) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await socket.recv()
            slot.heard_at = loop.time()
            backoff.reset()
            if isinstance(message, str):
                self._on_text(message)
                continue
            tick = self._parser.parse(message)
            if tick is not None:
                await self._queue.put(tick)

    async def _silence_watch(self, slot: Slot) -> None:
        """Ends the connection after `silence_timeout` without a message. One timer for the
        connection, not one per frame: thousands of frames a second arrive on the loop."""
        loop = asyncio.get_running_loop()
        while (quiet := loop.time() - slot.heard_at) < self._silence_timeout:
            await asyncio.sleep(self._silence_timeout - quiet)
        raise TimeoutError(f"no frame and no pong for {self._silence_timeout:g} s")

    def _on_text(self, message: str) -> None:
        if message == "pong":
            self.stats["pongs"] += 1
            return
        self.stats["stream_errors"] += 1
        try:
            error = json.loads(message)
            logger.warning(
                "Angel One stream error %s: %s", error.get("errorCode"), error.get("errorMessage")
            )
        except (ValueError, AttributeError):
            logger.warning("Angel One sent an unexpected text message (%d chars)", len(message))
