"""The live gate: which received ticks go to the live push now, and which go on to storage.

The feed pushes a tick as soon as it is parsed and validated, before it is stored, so the
gate applies ingestion's rules (`services.ticks_prepare`) on lookups it keeps in memory:
- instruments by token, read from the database once per token;
- market sessions by (exchange, IST day), read once per day; while the database cannot be
  read, the exchange calendar without staff overrides stands in;
- each symbol's newest pushed tick, which grades the next one (the first one of a symbol is
  graded against the stored tick before it, when the database answers).

A database outage therefore never stops the live push. A token first seen while the
database cannot be read is taken on the source's word (a provisional instrument built from
the tick): its ticks are pushed, and the writer checks the token against the instrument
master before storing them, once the database is back. What the gate refuses is never
pushed: invalid ticks, ticks outside the session (they are never stored either), and a tick
whose exchange time is not newer than the last one pushed for its symbol (a replayed or
older frame: no duplicates and no time travel on the live stream; an older tick that is new
to the store is still stored).
"""

import contextlib
import logging
import time
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

# After a failed read, the gate leaves the database alone this long (the live thread must
# not wait on it batch after batch).
LOOKUP_RETRY_SECONDS = 1.0


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
        self.provisional: set[str] = set()  # tokens not checked against the master yet
        self._lookups_paused_until = 0.0
        self._sessions: dict[SessionKey, TradingSession | None] = {}
        self._last_pushed: dict[str, Tick] = {}

    def admit(self, ticks: Sequence[Tick]) -> GateResult:
        self._learn_instruments(ticks)
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

    def _learn_instruments(self, ticks: Sequence[Tick]) -> None:
        tokens = {tick.token for tick in ticks if tick.token}
        unknown = tokens - self.instruments.keys()
        if time.monotonic() >= self._lookups_paused_until:
            unknown |= self.provisional & tokens
        if not unknown:
            return
        try:
            found = instruments_by_token(tokens=unknown)
        except DatabaseError as exc:
            _connection_close()
            self._lookups_paused_until = time.monotonic() + LOOKUP_RETRY_SECONDS
            self._take_on_trust(ticks, unknown - self.provisional, exc)
            return
        for token in unknown & self.provisional - found.keys():  # the master says no
            del self.instruments[token]
        self.provisional -= unknown
        self.instruments.update(found)

    def _take_on_trust(self, ticks: Sequence[Tick], tokens: set[str], exc: Exception) -> None:
        for tick in ticks:
            if tick.token in tokens and tick.token not in self.instruments:
                self.instruments[tick.token] = Instrument(
                    token=tick.token,
                    symbol=tick.symbol,
                    exchange=tick.exchange,
                    exchange_type=tick.exchange_type or 0,
                )
                self.provisional.add(tick.token)
        if tokens:
            logger.warning(
                "The live gate cannot read instruments (%s); %d new token(s) taken on the "
                "source's word until the database is back",
                exc,
                len(tokens),
            )

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
        pushed = self._last_pushed
        previous: dict[str, Tick | MarketData] = {s: pushed[s] for s in first_seen if s in pushed}
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
