"""How tokens are spread over SmartAPI connections, and the subscribe/unsubscribe requests.

SmartAPI allows 1,000 tokens per connection and 3 connections per client code.
"""

import asyncio
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from marketdata.feed.angelone.frames import Subscribable
from marketdata.feed.errors import FeedConfigurationError

TOKENS_PER_CONNECTION = 1000
MAX_CONNECTIONS = 3
SUBSCRIBE_BATCH = 250


@dataclass(eq=False)
class Slot:
    """One SmartAPI connection's share of the tokens: what it should carry, and an event set
    whenever that changes (its open connection then sends the difference)."""

    index: int
    # (exchange type, token) -> mode
    wanted: dict[tuple[int, str], int] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    state: str = "connecting"
    task: asyncio.Task[None] | None = None
    heard_at: float = 0.0  # loop time of the last message its connection received


def spread(instruments: Sequence[Subscribable]) -> list[list[Subscribable]]:
    """Instruments split evenly over as few connections as SmartAPI's limits allow."""
    if not instruments:
        raise FeedConfigurationError("--symbols", "no instruments to subscribe")
    limit = TOKENS_PER_CONNECTION * MAX_CONNECTIONS
    if len(instruments) > limit:
        raise FeedConfigurationError(
            "--symbols", f"{len(instruments)} instruments; Angel One streams at most {limit}"
        )
    connections = math.ceil(len(instruments) / TOKENS_PER_CONNECTION)
    size = math.ceil(len(instruments) / connections)
    return [list(instruments[start : start + size]) for start in range(0, len(instruments), size)]


def key_of(item: Subscribable) -> tuple[int, str]:
    return (int(item.exchange_type), str(item.token))


def subscription_request(
    index: int, number: int, action: int, mode: int, keys: list[tuple[int, str]]
) -> dict[str, Any]:
    """SmartAPI's subscribe (1) / unsubscribe (0) request, tokens by exchange type; `number`
    makes the connection's correlation id unique."""
    tokens: dict[int, list[str]] = defaultdict(list)
    for exchange_type, token in keys:
        tokens[exchange_type].append(token)
    return {
        "correlationID": f"c{index}r{number % 10**7:07d}",  # 10 characters
        "action": action,
        "params": {
            "mode": mode,
            "tokenList": [{"exchangeType": ex, "tokens": ts} for ex, ts in tokens.items()],
        },
    }
