"""Market data writes: tick ingestion.

`tick_ingest` is the one entry point every tick passes through (the live feed, backfills,
benchmarks). Its rules are documented in docs/market-data.md.
"""

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from django.conf import settings

from marketdata import storage
from marketdata.market_calendar import (
    TradingSession,
    calendar_exchange,
    ist_day,
    market_sessions,
)
from marketdata.models import DataQuality, Instrument, MarketData
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    stored: list[Tick] = field(default_factory=list)  # newly inserted, graded, in time order
    duplicates: int = 0
    after_hours: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count


SessionKey = tuple[str, date]  # (calendar exchange, IST day)
# The session of each key, None when closed (market_calendar.market_sessions, or a cache of it).
SessionLookup = Callable[[set[SessionKey]], Mapping[SessionKey, TradingSession | None]]
# The tick just before each symbol's first moment (storage.ticks_previous, or a cache of it).
PreviousLookup = Callable[[dict[str, datetime]], Mapping[str, Tick | MarketData]]


def _sessions_from_database(keys: set[SessionKey]) -> Mapping[SessionKey, TradingSession | None]:
    return market_sessions(days=keys)


def _previous_from_database(first_seen: dict[str, datetime]) -> Mapping[str, MarketData]:
    return storage.ticks_previous(first_seen=first_seen)


class Rejection(StrEnum):
    MISSING_TOKEN = "missing_token"  # noqa: S105 - an instrument token, not a secret
    MISSING_SYMBOL = "missing_symbol"
    INVALID_PRICE = "invalid_price"
    HIGH_BELOW_LOW = "high_below_low"
    INVALID_TIMESTAMP = "invalid_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 - an instrument token, not a secret
    SYMBOL_MISMATCH = "symbol_mismatch"


class _OncePerMinute:
    """Rate-limits log lines per key, so a broken source cannot flood the log."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -math.inf) < self.interval:
            return False
        self._last[key] = now
        return True


_rejection_log = _OncePerMinute()


def tick_ingest(*, ticks: Sequence[Tick], enforce_market_hours: bool = True) -> IngestResult:
    """Validate, filter, grade and store a batch; never raises for a bad tick.

    Ticks are normalized in place (UTC millisecond `received_at`, exchange filled from the
    instrument, `data_quality`, `ch`/`chp`). Historical backfill passes
    `enforce_market_hours=False` to keep ticks outside the session.
    """
    instruments = instruments_by_token(tokens={tick.token for tick in ticks if tick.token})
    result = ticks_prepare(
        ticks=ticks,
        instruments=instruments,
        sessions=_sessions_from_database if enforce_market_hours else None,
        previous=_previous_from_database,
    )
    accepted = result.stored
    result.stored = storage.ticks_insert_new(ticks=accepted, instruments=instruments)
    result.duplicates += len(accepted) - len(result.stored)
    return result


def ticks_prepare(
    *,
    ticks: Sequence[Tick],
    instruments: Mapping[str, Instrument],
    sessions: SessionLookup | None,
    previous: PreviousLookup,
) -> IngestResult:
    """Every rule of ingestion but the insert: the result's `stored` holds the ticks to store
    (valid, unique in the batch, inside their session unless `sessions` is None, in time
    order, graded). The feed's live push runs the same rules on cached lookups."""
    result = IngestResult()
    now = datetime.now(tz=UTC)
    accepted = _validated(ticks, instruments, now, result)
    accepted = _unique_in_batch(accepted, result)
    if sessions is not None:
        accepted = _in_market_hours(accepted, sessions, result)
    accepted.sort(key=lambda tick: tick.received_at)
    _grade(accepted, now, previous)
    result.stored = accepted
    return result


def instruments_by_token(*, tokens: set[str]) -> dict[str, Instrument]:
    # A token can exist on several segments; the streamed (subscribed) instrument wins.
    rows = Instrument.objects.filter(token__in=tokens).order_by("subscribed")
    return {instrument.token: instrument for instrument in rows}


def _rejection_reason(tick: Tick, instruments: Mapping[str, Instrument], latest: datetime) -> str:
    price = tick.ltpc
    if not tick.token:
        return Rejection.MISSING_TOKEN
    if not tick.symbol:
        return Rejection.MISSING_SYMBOL
    if isinstance(price, bool) or not isinstance(price, int | float) or not 0 < price < math.inf:
        return Rejection.INVALID_PRICE
    if tick.high is not None and tick.low is not None and tick.high < tick.low:
        return Rejection.HIGH_BELOW_LOW
    moment = tick.received_at
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        return Rejection.INVALID_TIMESTAMP
    if moment > latest:
        return Rejection.FUTURE_TIMESTAMP
    instrument = instruments.get(tick.token)
    if instrument is None:
        return Rejection.UNKNOWN_TOKEN
    if instrument.symbol != tick.symbol:
        return Rejection.SYMBOL_MISMATCH
    return ""


def _validated(
    ticks: Iterable[Tick],
    instruments: Mapping[str, Instrument],
    now: datetime,
    result: IngestResult,
) -> list[Tick]:
    latest = now + timedelta(seconds=settings.MARKET_DATA_MAX_CLOCK_SKEW_SECONDS)
    accepted: list[Tick] = []
    rejected: Counter[str] = Counter()
    examples: dict[str, Tick] = {}
    for tick in ticks:
        reason = _rejection_reason(tick, instruments, latest)
        if reason:
            rejected[reason] += 1
            examples.setdefault(reason, tick)
            continue
        instrument = instruments[tick.token]
        tick.exchange = tick.exchange or instrument.exchange
        tick.exchange_type = tick.exchange_type or instrument.exchange_type
        accepted.append(tick)
    for reason, count in rejected.items():
        if _rejection_log(reason):
            example = examples[reason]
            logger.warning(
                "Rejected %d tick(s): %s (first: instrument %r, symbol %r, ltpc %r, at %r); "
                "further rejections for this reason are not logged for a minute",
                count, reason, example.token, example.symbol, example.ltpc, example.received_at,
            )  # fmt: skip
    result.rejected = {str(reason): count for reason, count in rejected.items()}
    return accepted


def _to_millisecond(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds only, so every backend builds the unique key at that precision."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    extra = moment.microsecond % 1000
    return moment.replace(microsecond=moment.microsecond - extra) if extra else moment


def _unique_in_batch(ticks: list[Tick], result: IngestResult) -> list[Tick]:
    unique: dict[tuple[str, datetime], Tick] = {}
    for tick in ticks:
        tick.received_at = _to_millisecond(tick.received_at)
        unique.setdefault((tick.symbol, tick.received_at), tick)
    result.duplicates += len(ticks) - len(unique)
    return list(unique.values())


def _in_market_hours(ticks: list[Tick], lookup: SessionLookup, result: IngestResult) -> list[Tick]:
    calendars = {exchange: calendar_exchange(exchange) for exchange in {t.exchange for t in ticks}}
    keys = [(calendars[tick.exchange], ist_day(tick.received_at)) for tick in ticks]
    sessions = lookup(set(keys))
    inside = [
        tick
        for key, tick in zip(keys, ticks, strict=True)
        if (session := sessions[key]) is not None and session.contains(tick.received_at)
    ]
    result.after_hours += len(ticks) - len(inside)
    return inside


# --- grading and change from the previous close ---


def _previous_ticks(ticks: list[Tick], lookup: PreviousLookup) -> Mapping[str, Tick | MarketData]:
    """The tick just before each symbol's first tick in this (time-sorted) batch."""
    first_seen: dict[str, datetime] = {}
    for tick in ticks:
        first_seen.setdefault(tick.symbol, tick.received_at)
    return lookup(first_seen)


def _fill_change(tick: Tick, previous: Tick | MarketData | None, same_session: bool) -> None:
    """Derive the previous close, then ch/chp, when the source did not send them.

    Within a session the previous tick carries the previous close; across sessions the
    previous session's last price is the close.
    """
    if tick.close is None and previous is not None:
        tick.close = previous.close if same_session else previous.ltpc
    if not tick.close:
        return
    if tick.ch is None:
        tick.ch = round(tick.ltpc - tick.close, 2)
    if tick.chp is None:
        tick.chp = round((tick.ltpc - tick.close) / tick.close * 100, 2)


def _quality(tick: Tick, session_previous: Tick | MarketData | None, stale_before: datetime) -> str:
    """SUSPECT: a jump over the limit from the session's previous tick, or a price outside
    the day's high/low. STALE: a realtime tick whose exchange time is too old. Else GOOD."""
    if session_previous is not None:
        jump = abs(tick.ltpc - session_previous.ltpc) / session_previous.ltpc * 100
        if jump > settings.MARKET_DATA_JUMP_PERCENT:
            return DataQuality.SUSPECT
    if tick.high is not None and tick.low is not None and not tick.low <= tick.ltpc <= tick.high:
        return DataQuality.SUSPECT
    if tick.is_realtime and tick.received_at < stale_before:
        return DataQuality.STALE
    return DataQuality.GOOD


def _grade(ticks: list[Tick], now: datetime, lookup: PreviousLookup) -> None:
    stale_before = now - timedelta(seconds=settings.MARKET_DATA_STALE_SECONDS)
    previous: dict[str, tuple[Tick | MarketData, date]] = {
        symbol: (row, ist_day(row.received_at))
        for symbol, row in _previous_ticks(ticks, lookup).items()
    }
    for tick in ticks:
        day = ist_day(tick.received_at)
        before, before_day = previous.get(tick.symbol, (None, None))
        same_session = before_day == day
        _fill_change(tick, before, same_session)
        tick.data_quality = _quality(tick, before if same_session else None, stale_before)
        previous[tick.symbol] = (tick, day)
