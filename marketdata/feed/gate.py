"""The live gate: which received ticks go to the live push now, and which go on to storage.

The feed pushes a tick as soon as it is parsed and validated, before it is stored, so the
gate applies ingestion's rules (`services.ticks_prepare`) on lookups it keeps in memory:
- instruments by token, read from the database once per token;
- market sessions by (exchange, IST day), read once per day; while the database cannot be
  read, the exchange calendar without staff overrides stands in;
- each symbol's newest pushed tick, which grades the next one (the first one of a symbol is
  graded against the stored tick before it, when the database answers).

A database outage therefore never stops the live push. What the gate refuses is never
pushed: invalid ticks, ticks outside the session (they are never stored either), and a tick
whose exchange time is not newer than the last one pushed for its symbol (a replayed or
older frame: no duplicates and no time travel on the live stream; an older tick that is new
to the store is still stored).
"""

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, connection

from marketdata import storage
from marketdata.market_calendar import TradingSession, market_sessions, regular_session
from marketdata.models import Instrument, MarketData
from marketdata.services import IngestResult, SessionKey, instruments_by_token, ticks_prepare
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)


@dataclass
class GateResult:
    push: list[Tick] = field(default_factory=list)  # newer than anything pushed, time order
    store: list[Tick] = field(default_factory=list)  # every valid tick in session, time order
    prepared: IngestResult = field(default_factory=IngestResult)


class LiveGate:
    """Not thread-safe: one feed thread calls `admit`, batch after batch, in arrival order."""

    def __init__(self, *, enforce_market_hours: bool = True) -> None:
        self.enforce_market_hours = enforce_market_hours
        self.instruments: dict[str, Instrument] = {}
        self._sessions: dict[SessionKey, TradingSession | None] = {}
        self._last_pushed: dict[str, Tick] = {}

    def admit(self, ticks: Sequence[Tick]) -> GateResult:
        self._learn_instruments({tick.token for tick in ticks if tick.token})
        prepared = ticks_prepare(
            ticks=ticks,
            instruments=self.instruments,
            sessions=self._session_lookup if self.enforce_market_hours else None,
            previous=self._previous_lookup,
        )
        result = GateResult(store=prepared.stored, prepared=prepared)
        for tick in prepared.stored:
            last = self._last_pushed.get(tick.symbol)
            if last is None or tick.received_at > last.received_at:
                self._last_pushed[tick.symbol] = tick
                result.push.append(tick)
        return result

    def _learn_instruments(self, tokens: set[str]) -> None:
        unknown = tokens - self.instruments.keys()
        if not unknown:
            return
        try:
            self.instruments.update(instruments_by_token(tokens=unknown))
        except DatabaseError as exc:  # their ticks are rejected as unknown until it answers
            logger.warning("The live gate cannot read instruments (%s)", exc)
            _connection_close()

    def _session_lookup(self, keys: set[SessionKey]) -> Mapping[SessionKey, TradingSession | None]:
        missing = keys - self._sessions.keys()
        if missing:
            try:
                self._sessions.update(market_sessions(days=missing))
            except DatabaseError:
                _connection_close()
                # Staff overrides are unreadable: the exchange calendar decides, uncached.
                return {key: self._sessions.get(key, regular_session(*key)) for key in keys}
        return {key: self._sessions[key] for key in keys}

    def _previous_lookup(self, first_seen: dict[str, datetime]) -> Mapping[str, Tick | MarketData]:
        previous: dict[str, Tick | MarketData] = {
            symbol: tick for symbol, tick in self._last_pushed.items() if symbol in first_seen
        }
        unseen = {s: moment for s, moment in first_seen.items() if s not in previous}
        if unseen:
            try:
                previous.update(storage.ticks_previous(first_seen=unseen))
            except DatabaseError:  # graded without a previous tick, like a symbol's first
                _connection_close()
        return previous


def _connection_close() -> None:
    """Drop this thread's broken connection, so the next read opens a fresh one."""
    with contextlib.suppress(DatabaseError):
        connection.close()
