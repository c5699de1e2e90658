"""Live P&L on `/ws`: a `price` signal event as an ACTIVE signal's option moves, conflated.

The feed pushes ticks live before it stores them (docs/feed.md, "Live first"), and calls its
live hooks with each pushed batch: `signal_prices_seen` is one (registered in apps.py). It
runs in the feed's live thread, so it never touches the database: it prices the signals it
was last handed by `signals_follow`, which the after-store hook (`services.signal_ticks_stored`)
calls from the writer thread with the ACTIVE signals it has just read.

Per tick it costs a set lookup, and nothing at all while no signal is ACTIVE. The newest tick
of each followed option waits for the next flush; at most SIGNAL_PNL_EVENTS_PER_SECOND
flushes a second publish one event per signal whose option ticked, all in one Redis round
trip. A flush is due when a later batch arrives, so the last move of a quiet option is
sent with the feed's next batch.
"""

import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings

from marketdata.live import publish
from marketdata.ticks import Tick
from signals.models import Signal
from signals.pnl import Quote
from signals.render import signal_render


class PriceEvents:
    """The ACTIVE signals by option symbol, and the newest unsent tick of each option."""

    def __init__(self) -> None:
        self._book: dict[str, tuple[Signal, ...]] = {}
        self._pending: dict[str, Tick] = {}
        self._flushed_at = -math.inf
        # The live thread calls seen(); the lock keeps it whole should two pipelines share a
        # process (serve restarting its feed while the old one drains).
        self._lock = threading.Lock()

    def follow(self, signals: Iterable[Signal]) -> None:
        """Price these signals from now on (and no others)."""
        book: defaultdict[str, list[Signal]] = defaultdict(list)
        for signal in signals:
            book[signal.symbol].append(signal)
        # One assignment: the live thread sees the old book or the new one, whole.
        self._book = {symbol: tuple(group) for symbol, group in book.items()}

    def seen(self, ticks: Sequence[Tick], *, now: float) -> list[dict[str, Any]]:
        """Note the ticks of followed options; the events due at `now` (monotonic seconds)."""
        book = self._book
        if not book and not self._pending:
            return []  # no ACTIVE signal: the cost of the hook while nothing is followed
        with self._lock:
            pending = self._pending
            for tick in ticks:
                if tick.symbol in book:
                    pending[tick.symbol] = tick
            if not pending:
                return []
            if now - self._flushed_at < 1 / settings.SIGNAL_PNL_EVENTS_PER_SECOND:
                return []
            due, self._pending, self._flushed_at = self._pending, {}, now
        return [
            _price_event(signal, tick)
            for symbol, tick in due.items()
            for signal in book.get(symbol, ())
        ]


def _price_event(signal: Signal, tick: Tick) -> dict[str, Any]:
    quote = Quote(tick.ltpc, tick.received_at)
    return {"type": "signal", "action": "price", "signal": signal_render(signal, quote=quote)}


PRICE_EVENTS = PriceEvents()


def signals_follow(*, signals: Iterable[Signal]) -> None:
    PRICE_EVENTS.follow(signals)


def signal_prices_seen(*, ticks: Sequence[Tick]) -> None:
    """The feed's live hook: publish the price events due."""
    events = PRICE_EVENTS.seen(ticks, now=time.monotonic())
    if events:
        publish.signal_prices_publish(events=events)
