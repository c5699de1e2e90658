"""Publishing to the live push (`/ws`): stored ticks to their symbol's subscribers, signal events to all.

Each message is rendered to JSON once here, by the publisher, so a server with 1,000 clients
does not encode the same tick 1,000 times. Every tick carries `seq`, a per-symbol sequence
number shared by all publishers (a Redis counter when REDIS_URL is set), so a client can tell
when it missed ticks (conflation, a reconnect) and resync from the REST API.
"""

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from channels.layers import get_channel_layer

from marketdata.live.layer import FanoutChannelLayer
from marketdata.live.render import tick_render
from marketdata.ticks import Tick
from trading_signals.wire import json_render

SIGNALS_GROUP = "signals"


def tick_group(symbol: str) -> str:
    return f"ticks.{symbol}"


def user_group(user_id: Any) -> str:
    """Every open /ws connection of one user."""
    return f"user.{user_id}"


def _layer() -> FanoutChannelLayer:
    layer = get_channel_layer()
    if not isinstance(layer, FanoutChannelLayer):
        raise TypeError(
            "CHANNEL_LAYERS['default'] must be marketdata.live.layer.FanoutChannelLayer."
        )
    return layer


def _tick_texts(layer: FanoutChannelLayer, ticks: Sequence[Tick]) -> dict[str, list[str]]:
    """Each symbol's tick messages, rendered, in the order the ticks are given.

    `seq` numbers are consecutive per symbol: one shared counter increment per symbol claims
    the batch's range.
    """
    counts = Counter(tick.symbol for tick in ticks)
    totals = layer.counters_increment({f"seq:{symbol}": n for symbol, n in counts.items()})
    next_seq = {symbol: totals[f"seq:{symbol}"] - n + 1 for symbol, n in counts.items()}
    texts: dict[str, list[str]] = {symbol: [] for symbol in counts}
    for tick in ticks:
        seq = next_seq[tick.symbol]
        next_seq[tick.symbol] = seq + 1
        texts[tick.symbol].append(
            json_render({"type": "tick", "seq": seq, "tick": tick_render(tick)})
        )
    return texts


def ticks_publish(*, ticks: Sequence[Tick]) -> None:
    """Push stored ticks to their subscribers. Sync: for the feed process or a Celery worker.

    One channel-layer message per symbol carries that symbol's ticks in order (`texts`); the
    layer hands each subscriber one message per tick. Per-message costs (packing, a Redis
    PUBLISH) were most of publishing when paid per tick.
    """
    if not ticks:
        return
    layer = _layer()
    layer.publish_many(
        (tick_group(symbol), {"type": "tick.message", "conflate": f"tick:{symbol}", "texts": texts})
        for symbol, texts in _tick_texts(layer, ticks).items()
    )


async def aticks_publish(*, ticks: Sequence[Tick]) -> None:
    """`ticks_publish` for code running inside an event loop (the embedded feed)."""
    await asyncio.to_thread(ticks_publish, ticks=ticks)


def _signal_message(event: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"type": "signal.message", "text": json_render({**event, "type": "signal"}), **extra}


def signal_event_publish(*, event: dict[str, Any]) -> None:
    """Push a signal event to every connected client as `{"type": "signal", **event}`.

    Call it after the change is committed (`transaction.on_commit`).
    """
    _layer().publish_many([(SIGNALS_GROUP, _signal_message(event))])


def signal_prices_publish(*, events: Sequence[dict[str, Any]]) -> None:
    """Push signal price events (`event["signal"]["id"]` names each signal), one Redis round
    trip for all. A slow client's mailbox keeps only the newest unsent price event of each
    signal, as it does for ticks; the other signal events are never replaced by them."""
    _layer().publish_many(
        (SIGNALS_GROUP, _signal_message(event, conflate=f"signal-price:{event['signal']['id']}"))
        for event in events
    )


def user_connections_close(*, user_id: Any) -> None:
    """Close the user's open /ws connections (4401): their tokens were revoked."""
    _layer().publish_many([(user_group(user_id), {"type": "tokens.revoked"})])
