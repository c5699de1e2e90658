"""Market data writes: tick ingestion and the instrument master.

`tick_ingest` is the one entry point every tick passes through (the live feed, backfills,
benchmarks). Its rules are documented in docs/market-data.md.
"""

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

import ujson
from django.conf import settings
from django.db import connection, transaction

from marketdata.market_hours import calendar_exchange, ist_day, market_sessions
from marketdata.models import DataQuality, Instrument, MarketData
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class IngestResult:
    stored: list[Tick] = field(default_factory=list)  # newly inserted, graded, in time order
    duplicates: int = 0
    after_hours: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count


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
    result = IngestResult()
    instruments = _instruments_by_token({tick.token for tick in ticks if tick.token})
    now = datetime.now(tz=UTC)
    accepted = _validated(ticks, instruments, now, result)
    accepted = _unique_in_batch(accepted, result)
    if enforce_market_hours:
        accepted = _in_market_hours(accepted, result)
    accepted.sort(key=lambda tick: tick.received_at)
    _grade(accepted, now)
    result.stored = ticks_insert_new(ticks=accepted, instruments=instruments)
    result.duplicates += len(accepted) - len(result.stored)
    return result


def _instruments_by_token(tokens: set[str]) -> dict[str, Instrument]:
    # A token can exist on several segments; the streamed (subscribed) instrument wins.
    rows = Instrument.objects.filter(token__in=tokens).order_by("subscribed")
    return {instrument.token: instrument for instrument in rows}


def _rejection_reason(tick: Tick, instruments: dict[str, Instrument], latest: datetime) -> str:
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
    ticks: Iterable[Tick], instruments: dict[str, Instrument], now: datetime, result: IngestResult
) -> list[Tick]:
    latest = now + timedelta(seconds=settings.MARKET_DATA_MAX_CLOCK_SKEW_SECONDS)
    accepted, rejected, examples = [], Counter(), {}
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


def _in_market_hours(ticks: list[Tick], result: IngestResult) -> list[Tick]:
    calendars = {exchange: calendar_exchange(exchange) for exchange in {t.exchange for t in ticks}}
    keys = [(calendars[tick.exchange], ist_day(tick.received_at)) for tick in ticks]
    sessions = market_sessions(days=set(keys))
    inside = [
        tick
        for key, tick in zip(keys, ticks, strict=True)
        if (session := sessions[key]) is not None and session.contains(tick.received_at)
    ]
    result.after_hours += len(ticks) - len(inside)
    return inside


# --- grading and change from the previous close ---


def _previous_ticks(ticks: list[Tick]) -> dict[str, MarketData]:
    """The stored tick just before each symbol's first tick in this (time-sorted) batch."""
    first_seen: dict[str, datetime] = {}
    for tick in ticks:
        first_seen.setdefault(tick.symbol, tick.received_at)
    return _PREVIOUS_BACKENDS[connection.vendor](first_seen)


def _previous_orm(first_seen: dict[str, datetime]) -> dict[str, MarketData]:
    """One query per symbol."""
    previous = {}
    for symbol, moment in first_seen.items():
        row = (
            MarketData.objects.filter(symbol=symbol, received_at__lt=moment)
            .order_by("-received_at")
            .only("ltpc", "close", "received_at")
            .first()
        )
        if row is not None:
            previous[symbol] = row
    return previous


# Symbols per query: SQLite allows 500 terms in a compound SELECT.
_PREVIOUS_CHUNK = 200


@cache
def _previous_sql_text(symbols: int) -> str:
    one = (
        "SELECT * FROM (SELECT symbol, ltpc, close, received_at FROM market_data "
        "WHERE symbol = %s AND received_at < %s ORDER BY received_at DESC LIMIT 1) AS p{}"
    )
    return " UNION ALL ".join(one.format(n) for n in range(symbols))


def _previous_sql(first_seen: dict[str, datetime]) -> dict[str, MarketData]:
    """One round trip for up to _PREVIOUS_CHUNK symbols: the ORM's cost and a round trip per
    symbol were most of grading."""
    adapt = connection.ops.adapt_datetimefield_value
    items = list(first_seen.items())
    previous = {}
    with connection.cursor() as cursor:
        for start in range(0, len(items), _PREVIOUS_CHUNK):
            chunk = items[start : start + _PREVIOUS_CHUNK]
            params = [value for symbol, moment in chunk for value in (symbol, adapt(moment))]
            cursor.execute(_previous_sql_text(len(chunk)), params)
            for symbol, ltpc, close, received_at in cursor.fetchall():
                previous[symbol] = MarketData(
                    symbol=symbol, ltpc=ltpc, close=close, received_at=_aware(received_at)
                )
    return previous


def _aware(moment: datetime | str) -> datetime:
    """A datetime read by raw SQL: SQLite returns Django's naive UTC text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_PREVIOUS_BACKENDS: dict[str, Callable[[dict[str, datetime]], dict[str, MarketData]]] = {
    "sqlite": _previous_sql,
    "postgresql": _previous_sql,
    "mongodb": _previous_orm,
}


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


def _grade(ticks: list[Tick], now: datetime) -> None:
    stale_before = now - timedelta(seconds=settings.MARKET_DATA_STALE_SECONDS)
    previous = {
        symbol: (row, ist_day(row.received_at)) for symbol, row in _previous_ticks(ticks).items()
    }
    for tick in ticks:
        day = ist_day(tick.received_at)
        before, before_day = previous.get(tick.symbol, (None, None))
        same_session = before_day == day
        _fill_change(tick, before, same_session)
        tick.data_quality = _quality(tick, before if same_session else None, stale_before)
        previous[tick.symbol] = (tick, day)


# --- the duplicate-skipping insert, one implementation per backend ---

COLUMNS = (
    "tk", "symbol", "exchange", "ltpc", "ch", "chp", "high", "low", "open", "close", "volume",
    "exchange_type", "token", "instrument_type", "expiry", "strike_price", "depth",
    "received_at", "source", "processed", "raw_data", "data_quality", "is_realtime",
)  # fmt: skip
_JSON_COLUMNS = {"depth", "raw_data"}


def _instrument_details(instrument: Instrument | None) -> tuple:
    """instrument_type, expiry and strike_price of the ticks of this instrument."""
    if instrument is None:
        return ("", "", None)
    expiry = instrument.expiry.isoformat() if instrument.expiry else ""
    return (instrument.instrument_type, expiry, instrument.strike)


def _row_values(
    tick: Tick, details: tuple, *, depth: Any, received_at: Any, raw_data: Any
) -> tuple:
    """The tick's column values, in COLUMNS order (the JSON and datetime ones as given)."""
    return (
        tick.token, tick.symbol, tick.exchange, float(tick.ltpc), tick.ch, tick.chp, tick.high,
        tick.low, tick.open, tick.close, tick.volume, tick.exchange_type, tick.token, *details,
        depth, received_at, tick.source, False, raw_data, tick.data_quality, tick.is_realtime,
    )  # fmt: skip


def _json_text(value: dict[str, Any]) -> str:
    # ujson: the same JSON values as json.dumps (more compact text) in a third of its time.
    return ujson.dumps(value, escape_forward_slashes=False) if value else "{}"


def _sql_row(tick: Tick, details: tuple, received_at: Any) -> tuple:
    """Column values as the SQL drivers take them: JSON as text."""
    depth = None if tick.depth is None else _json_text(tick.depth)
    return _row_values(
        tick, details, depth=depth, received_at=received_at, raw_data=_json_text(tick.raw_data)
    )


def _sqlite_row(tick: Tick, details: tuple) -> tuple:
    # What Django's adapt_datetimefield_value stores on SQLite (naive UTC text), for a
    # fraction of its cost.
    moment = str(tick.received_at.astimezone(UTC).replace(tzinfo=None))
    return _sql_row(tick, details, moment)


def _postgresql_row(tick: Tick, details: tuple) -> tuple:
    return _sql_row(tick, details, tick.received_at)


# Rows per statement: SQLite allows 32,766 parameters per statement.
_SQLITE_CHUNK = 500


@cache
def _sqlite_insert_sql(rows: int) -> str:
    one = f"({', '.join('?' * len(COLUMNS))})"
    return (
        f"INSERT OR IGNORE INTO market_data ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"VALUES {', '.join([one] * rows)}"
    )


def _insert_sqlite(ticks: list[Tick], rows: list[tuple]) -> list[Tick]:
    """Multi-row statements, each inserting its rows in one step of SQLite with the GIL released;
    when they report fewer new rows than given (some were stored already), the batch is redone
    row by row, whose rowcounts name the new ticks."""
    with transaction.atomic():
        connection.ensure_connection()
        cursor = connection.connection.cursor()
        savepoint = transaction.savepoint()
        inserted = 0
        for start in range(0, len(rows), _SQLITE_CHUNK):
            chunk = rows[start : start + _SQLITE_CHUNK]
            cursor.execute(_sqlite_insert_sql(len(chunk)), [v for row in chunk for v in row])
            inserted += cursor.rowcount
        if inserted == len(rows):
            return ticks
        transaction.savepoint_rollback(savepoint)
        single = _sqlite_insert_sql(1)
        return [
            tick
            for tick, row in zip(ticks, rows, strict=True)
            if cursor.execute(single, row).rowcount
        ]


def _postgresql_array_types() -> list[str]:
    fields = {f.column: f for f in MarketData._meta.concrete_fields}
    types = []
    for column in COLUMNS:
        db_type = fields[column].db_type(connection)
        types.append("text" if column in _JSON_COLUMNS else db_type.split("(")[0])
    return types


@cache
def _postgresql_insert_sql() -> str:
    types = _postgresql_array_types()
    arrays = ", ".join(f"%b::{db_type}[]" for db_type in types)
    selected = ", ".join(f"{c}::jsonb" if c in _JSON_COLUMNS else c for c in COLUMNS)
    return (
        f"INSERT INTO market_data ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"SELECT {selected} FROM unnest({arrays}) AS t({', '.join(COLUMNS)}) "
        "ON CONFLICT DO NOTHING RETURNING symbol, (EXTRACT(EPOCH FROM received_at) * 1000)::bigint"
    )


def _insert_postgresql(ticks: list[Tick], rows: list[tuple]) -> list[Tick]:
    # One statement per batch: the rows travel as one array per column, and RETURNING names
    # the ticks that were new (a conflict returns nothing). Django's psycopg cursors bind
    # parameters client-side, quoting every array element in Python (most of the batch's
    # time); a plain psycopg cursor on the same connection and transaction binds them
    # server-side in binary.
    import psycopg

    connection.ensure_connection()
    arrays = [list(column) for column in zip(*rows, strict=True)]
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_postgresql_insert_sql(), arrays)
        if cursor.rowcount == len(ticks):  # all new, the usual case: nothing to match
            return ticks
        inserted = set(cursor.fetchall())
    # Keyed by epoch milliseconds: integers load far faster than timestamps.
    return [tick for tick in ticks if (tick.symbol, _epoch_ms(tick.received_at)) in inserted]


def _epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _insert_mongodb(ticks: list[Tick], documents: list[dict[str, Any]]) -> list[Tick]:
    from pymongo.errors import BulkWriteError

    collection = connection.get_collection(MarketData._meta.db_table)
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details["writeErrors"]
        if any(item["code"] != 11000 for item in errors):  # only duplicate keys are expected
            raise
        failed = {item["index"] for item in errors}
        return [tick for index, tick in enumerate(ticks) if index not in failed]
    return list(ticks)


def _mongodb_document(tick: Tick, details: tuple) -> dict[str, Any]:
    values = _row_values(
        tick, details, depth=tick.depth, received_at=tick.received_at, raw_data=tick.raw_data or {}
    )
    row = MarketData(**dict(zip(COLUMNS, values, strict=True)))
    return {
        f.column: f.get_db_prep_save(getattr(row, f.attname), connection)
        for f in MarketData._meta.concrete_fields
        if not f.primary_key
    }


_BACKENDS: dict[str, tuple[Callable[[Tick, tuple], Any], Callable[..., list[Tick]]]] = {
    "sqlite": (_sqlite_row, _insert_sqlite),
    "postgresql": (_postgresql_row, _insert_postgresql),
    "mongodb": (_mongodb_document, _insert_mongodb),
}


def ticks_insert_new(*, ticks: list[Tick], instruments: dict[str, Instrument]) -> list[Tick]:
    """Insert ticks unique in (symbol, received_at ms); return those that were not stored yet.

    Duplicates of stored rows are skipped by the database's unique index, so the rule holds
    across batches, processes and restarts without failing the rest of the batch.
    """
    if not ticks:
        return []
    prepare, insert = _BACKENDS[connection.vendor]
    details = {token: _instrument_details(instrument) for token, instrument in instruments.items()}
    rows = [prepare(tick, details[tick.token]) for tick in ticks]
    return insert(ticks, rows)


# --- the instrument master ---

# Angel One's exch_seg -> its WebSocket exchange type.
EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCDEX": 7, "CDS": 13}
_SYNCED_FIELDS = (
    "symbol", "name", "exchange_type", "instrument_type", "expiry", "strike", "lot_size",
    "tick_size",
)  # fmt: skip


@dataclass(frozen=True)
class InstrumentSyncResult:
    created: int
    updated: int
    removed: int
    skipped: int  # malformed records, or segments the WebSocket cannot stream


def _instrument_from_master(record: dict[str, Any]) -> Instrument | None:
    """One scrip master record; strikes and tick sizes arrive in paise."""
    try:
        exchange = str(record["exch_seg"]).upper()
        expiry = str(record.get("expiry") or "").strip()
        instrument = Instrument(
            token=str(record["token"]).strip(),
            symbol=str(record["symbol"]).strip(),
            name=str(record.get("name") or "").strip(),
            exchange=exchange,
            exchange_type=EXCHANGE_TYPES[exchange],
            instrument_type=str(record.get("instrumenttype") or "").strip(),
            expiry=datetime.strptime(expiry, "%d%b%Y").date() if expiry else None,  # noqa: DTZ007 - a date
            strike=float(record.get("strike") or 0) / 100 or None,
            lot_size=int(float(record.get("lotsize") or 1)),
            tick_size=float(record.get("tick_size") or 5) / 100,
        )
    except (KeyError, ValueError, TypeError):
        return None
    return instrument if instrument.token and instrument.symbol else None


def _synced_values(instrument: Instrument) -> tuple:
    return tuple(getattr(instrument, name) for name in _SYNCED_FIELDS)


def instruments_sync(*, records: Iterable[dict[str, Any]]) -> InstrumentSyncResult:
    """Upsert Angel One's instrument master by (exchange, token); drop contracts it no longer
    lists (expired ones). Subscribed instruments are left alone: they keep their short codes."""
    existing = {(i.exchange, i.token): i for i in Instrument.objects.all()}
    created, changed, seen, skipped = [], [], set(), 0
    for record in records:
        instrument = _instrument_from_master(record)
        if instrument is None:
            skipped += 1
            continue
        key = (instrument.exchange, instrument.token)
        if key in seen:
            continue
        seen.add(key)
        current = existing.get(key)
        if current is None:
            created.append(instrument)
        elif not current.subscribed and _synced_values(current) != _synced_values(instrument):
            instrument.pk = current.pk
            changed.append(instrument)
    gone = [i.pk for key, i in existing.items() if key not in seen and not i.subscribed]
    Instrument.objects.bulk_create(created, batch_size=1000)
    Instrument.objects.bulk_update(changed, fields=_SYNCED_FIELDS, batch_size=500)
    for start in range(0, len(gone), 1000):
        Instrument.objects.filter(pk__in=gone[start : start + 1000]).delete()
    return InstrumentSyncResult(len(created), len(changed), len(gone), skipped)
