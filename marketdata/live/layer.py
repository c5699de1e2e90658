"""The channel layer behind the live push: one Redis message per group message, fanned out locally.

channels-redis' default layer writes a copy of every group message into each member's Redis
list: 1,000 clients on one symbol cost 1,000 Redis writes per tick. This layer publishes each
group message once on Redis pub/sub (or hands it over in process when no Redis is configured);
each server process subscribes to the groups its own consumers joined and copies the message
into their mailboxes.

Each consumer has a mailbox of at most `capacity` messages, delivered in order. A consumer
that falls behind fills it; from then on a message with a `conflate` key replaces the newest
unsent one with the same key (a newer tick of a symbol replaces an older unsent one), so a
slow client costs a bounded amount of memory and still gets the latest price. Any other
message arriving at a full mailbox drops the oldest one (counted, and logged once).

A group message may carry a list `texts` instead of one `text`: it stands for one message per
text, in order (a publisher sends a batch of a symbol's ticks as one Redis message; each
consumer still gets, and conflates, one message per tick).

Channel names are process-local: `send()` reaches channels of this process only.
"""

import asyncio
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import msgpack
import redis
from channels.layers import BaseChannelLayer
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

Message = dict[str, Any]


class Mailbox:
    """One consumer's pending messages in arrival order, at most `capacity` of them.

    When full, a message with a `conflate` key replaces the newest pending one with the same
    key; any other message makes room by dropping the oldest.
    """

    __slots__ = (
        "_capacity",
        "_items",
        "_latest",
        "_serial",
        "_waiter",
        "conflated",
        "dropped",
        "fast_path",
    )

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        # Called with each message while nothing is pending; True means it was delivered.
        self.fast_path: Callable[[Message], bool] | None = None
        self._items: dict[int, Message] = {}
        self._latest: dict[Any, int] = {}  # conflate key -> serial of its newest pending message
        self._serial = itertools.count()
        self._waiter: asyncio.Future[None] | None = None
        self.conflated = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Message) -> None:
        if not self._items and self.fast_path is not None and self.fast_path(message):
            return
        key = message.get("conflate")
        if len(self._items) >= self._capacity:
            if key is not None and key in self._latest:
                self._items[self._latest[key]] = message
                self.conflated += 1
                return
            self._pop_oldest()
            self.dropped += 1
            if self.dropped == 1:
                logger.warning("A live push client is too slow: dropping its oldest messages.")
        serial = next(self._serial)
        self._items[serial] = message
        if key is not None:
            self._latest[key] = serial
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Message:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pop_oldest()

    def _pop_oldest(self) -> Message:
        serial = next(iter(self._items))
        message = self._items.pop(serial)
        key = message.get("conflate")
        if key is not None and self._latest.get(key) == serial:
            del self._latest[key]
        return message


class _RedisListener:
    """The process's one pub/sub connection: subscribes to groups with local members."""

    CONFIRM_TIMEOUT = 5.0

    def __init__(self, *, url: str, prefix: str, deliver: Any) -> None:
        self._prefix = f"{prefix}:"
        self._deliver = deliver
        self._client = aioredis.Redis.from_url(url)
        self._pubsub = self._client.pubsub()
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def subscribe(self, group: str) -> None:
        """Returns once Redis confirms, so nothing published afterwards can be missed."""
        topic = self._prefix + group
        confirmed = self._confirmed.get(topic)
        if confirmed is None:
            confirmed = self._confirmed[topic] = asyncio.get_running_loop().create_future()
            await self._pubsub.subscribe(topic)
            if self._task is None:  # reading needs the connection the first subscribe opens
                self._task = asyncio.create_task(self._read_forever(), name="fanout-listener")
        await asyncio.wait_for(asyncio.shield(confirmed), self.CONFIRM_TIMEOUT)

    async def unsubscribe(self, group: str) -> None:
        topic = self._prefix + group
        self._confirmed.pop(topic, None)
        await self._pubsub.unsubscribe(topic)

    async def _read_forever(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                # redis-py reconnects and resubscribes on the next read; what was published
                # meanwhile is lost, and clients see the gap in the sequence numbers.
                logger.warning("Live push lost its Redis connection; retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        topic = message["channel"].decode()
        if message["type"] == "message":
            self._deliver(topic[len(self._prefix) :], unpack(message["data"]))
        elif message["type"] == "subscribe":
            confirmed = self._confirmed.get(topic)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._client.aclose()


def expanded(message: Message) -> list[Message]:
    """A message with `texts` stands for one message per text, in order, each with `text`."""
    texts = message.get("texts")
    if texts is None:
        return [message]
    common = {key: value for key, value in message.items() if key != "texts"}
    return [{**common, "text": text} for text in texts]


def pack(message: Message) -> bytes:
    packed: bytes = msgpack.packb(message, use_bin_type=True)  # msgpack is untyped
    return packed


def unpack(data: bytes) -> Message:
    message: Message = msgpack.unpackb(data, raw=False)
    return message


class FanoutChannelLayer(BaseChannelLayer):
    """A channels layer: Redis pub/sub between processes when `url` is set, in process otherwise.

    Consumers must run on one event loop per process (daphne's); publishing works from any
    thread or loop, synchronously (`publish_many`) or through `group_send`.
    """

    extensions = ["groups", "flush"]

    def __init__(self, url: str = "", prefix: str = "live", capacity: int = 100, **kwargs: Any):
        super().__init__(capacity=capacity, **kwargs)
        self.url = url
        # Pub/sub channels ignore Redis database numbers: the prefix keeps databases apart.
        self.prefix = f"{prefix}:{redis.connection.parse_url(url).get('db', 0)}" if url else prefix
        self._mailboxes: dict[str, Mailbox] = {}
        self._groups: dict[str, set[str]] = {}
        self._memberships: dict[str, set[str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: _RedisListener | None = None
        self._publisher: redis.Redis | None = None
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    # --- Publishing: from any thread -------------------------------------------------------

    def publish_many(self, items: Iterable[tuple[str, Message]]) -> None:
        """Send each (group, message); one Redis round trip for the whole batch."""
        items = list(items)
        if self.url:
            pipe = self._redis().pipeline(transaction=False)
            for group, message in items:
                pipe.publish(f"{self.prefix}:{group}", pack(message))
            pipe.execute()
        else:
            self._on_home_loop(self._deliver_many, items)

    def counters_increment(self, counts: dict[str, int]) -> dict[str, int]:
        """Add to named counters shared by every process; returns the new totals."""
        if self.url:
            pipe = self._redis().pipeline(transaction=False)
            for name, count in counts.items():
                pipe.hincrby(f"{self.prefix}:counters", name, count)
            return dict(zip(counts, pipe.execute(), strict=True))
        with self._lock:
            for name, count in counts.items():
                self._counters[name] = self._counters.get(name, 0) + count
            return {name: self._counters[name] for name in counts}

    def _redis(self) -> redis.Redis:
        with self._lock:
            if self._publisher is None:
                self._publisher = redis.Redis.from_url(self.url)
            return self._publisher

    def _on_home_loop(self, callback: Any, *args: Any) -> None:
        """Local delivery touches consumer state, so it runs on the consumers' loop."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or loop is running or loop.is_closed():
            callback(*args)
        else:
            loop.call_soon_threadsafe(callback, *args)

    def _deliver_many(self, items: list[tuple[str, Message]]) -> None:
        for group, message in items:
            self._deliver(group, message)

    def _deliver(self, group: str, message: Message) -> None:
        channels = self._groups.get(group)
        if not channels:
            return
        messages = expanded(message)
        for channel in channels:
            put = self._mailboxes[channel].put
            for item in messages:
                put(item)

    # --- The channel layer API -------------------------------------------------------------

    async def new_channel(self, prefix: str = "specific.") -> str:
        self._loop = asyncio.get_running_loop()
        channel = f"{self.prefix}.{prefix}{uuid.uuid4().hex}"
        self._mailboxes[channel] = Mailbox(self.capacity)
        return channel

    def fast_path_set(self, channel: str, callback: Callable[[Message], bool]) -> None:
        """Let `callback` deliver the channel's messages as they arrive, while none is pending.

        It skips waking the consumer's task for each message: with daphne, whose sends are
        synchronous anyway, the consumer writes straight to the socket (see consumers.py).
        """
        self._mailboxes[channel].fast_path = callback

    async def receive(self, channel: str) -> Message:
        mailbox = self._mailboxes.get(channel)
        if mailbox is None:
            raise RuntimeError(f"Channel {channel!r} does not belong to this process.")
        try:
            return await mailbox.get()
        except asyncio.CancelledError:
            # Channels cancels the receive when its consumer ends: forget the channel then.
            await self._channel_drop(channel)
            raise

    async def send(self, channel: str, message: Message) -> None:
        mailbox = self._mailboxes.get(channel)
        if mailbox is None:
            raise RuntimeError(f"Channel {channel!r} does not belong to this process.")
        mailbox.put(message)

    async def group_add(self, group: str, channel: str) -> None:
        if channel not in self._mailboxes:
            raise RuntimeError(f"Channel {channel!r} does not belong to this process.")
        self._groups.setdefault(group, set()).add(channel)
        self._memberships.setdefault(channel, set()).add(group)
        if self.url:
            await self._listener_get().subscribe(group)

    async def group_discard(self, group: str, channel: str) -> None:
        members = self._groups.get(group)
        if not members or channel not in members:
            return
        members.discard(channel)
        self._memberships.get(channel, set()).discard(group)
        if not members:
            del self._groups[group]
            if self._listener is not None:
                await self._listener.unsubscribe(group)

    async def group_send(self, group: str, message: Message) -> None:
        if self.url:
            await asyncio.to_thread(self.publish_many, [(group, message)])
        else:
            self._on_home_loop(self._deliver, group, message)

    async def flush(self) -> None:
        self._mailboxes.clear()
        self._groups.clear()
        self._memberships.clear()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def _channel_drop(self, channel: str) -> None:
        for group in self._memberships.pop(channel, set()):
            await self.group_discard(group, channel)
        self._mailboxes.pop(channel, None)

    def _listener_get(self) -> _RedisListener:
        if self._listener is None:
            self._listener = _RedisListener(url=self.url, prefix=self.prefix, deliver=self._deliver)
        return self._listener
