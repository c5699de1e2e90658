"""Publishing to the live push (`/ws`): stored ticks to their symbol's subscribers, signal events to all.

Each message is rendered to JSON once here, by the publisher, so a server with 1,000 clients
does not encode the same tick 1,000 times. Every tick carries `seq`, a per-symbol sequence
number shared by all publishers (a Redis counter when REDIS_URL is set), so a client can tell
when it missed ticks (conflation, a reconnect) and resync from the REST API.
"""

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from marketdata.fanout import FanoutChannelLayer, Message
from marketdata.serializers import TickSerializer
from marketdata.ticks import Tick

SIGNALS_GROUP = "signals"


def tick_group(symbol: str) -> str:
    return f"ticks.{symbol}"


def _layer() -> FanoutChannelLayer:
    layer = get_channel_layer()
    if not isinstance(layer, FanoutChannelLayer):
        raise TypeError("CHANNEL_LAYERS['default'] must be marketdata.fanout.FanoutChannelLayer.")
    return layer


def json_render(payload: dict[str, Any]) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def _tick_message(tick: Tick, seq: int) -> Message:
    text = json_render({"type": "tick", "seq": seq, "tick": TickSerializer(tick).data})
    return {"type": "tick.message", "conflate": f"tick:{tick.symbol}", "text": text}


def _sequence_numbers(layer: FanoutChannelLayer, ticks: Sequence[Tick]) -> list[int]:
    """Consecutive numbers per symbol, in the order the ticks are given."""
    counts = Counter(tick.symbol for tick in ticks)
    totals = layer.counters_increment({f"seq:{symbol}": n for symbol, n in counts.items()})
    next_seq = {symbol: totals[f"seq:{symbol}"] - n + 1 for symbol, n in counts.items()}
    numbers = []
    for tick in ticks:
        numbers.append(next_seq[tick.symbol])
        next_seq[tick.symbol] += 1
    return numbers


def ticks_publish(*, ticks: Sequence[Tick]) -> None:
    """Push stored ticks to their subscribers. Sync: for the feed process or a Celery worker."""
    if not ticks:
        return
    layer = _layer()
    seqs = _sequence_numbers(layer, ticks)
    layer.publish_many(
        (tick_group(tick.symbol), _tick_message(tick, seq))
        for tick, seq in zip(ticks, seqs, strict=True)
    )


async def aticks_publish(*, ticks: Sequence[Tick]) -> None:
    """`ticks_publish` for code running inside an event loop (the embedded feed)."""
    await asyncio.to_thread(ticks_publish, ticks=ticks)


def signal_event_publish(*, event: dict[str, Any]) -> None:
    """Push a signal event to every connected client as `{"type": "signal", **event}`.

    Call it after the change is committed (`transaction.on_commit`).
    """
    message = {"type": "signal.message", "text": json_render({**event, "type": "signal"})}
    _layer().publish_many([(SIGNALS_GROUP, message)])
