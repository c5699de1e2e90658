"""The tick store's backend-specific code: one implementation per backend, behind small functions.

- `ticks_insert_new`: insert ticks unique in (symbol, received_at ms), skipping stored ones;
- `ticks_previous`: the stored tick just before a moment, for several symbols at once;
- `ticks_latest`: the newest stored tick of each of several symbols, in one query;
- `candle_rows`: OHLC buckets aggregated by the database.

Columns come from the `MarketData` model and are filled by name, so a new field cannot be
written into the wrong column.
"""

import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

import ujson
from django.db import connection, transaction

from marketdata.market_calendar import IST_OFFSET
from marketdata.models import Instrument, MarketData
from marketdata.ticks import Tick

if TYPE_CHECKING:
    from pymongo.collection import Collection

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
IST_OFFSET_SECONDS = int(IST_OFFSET.total_seconds())

Row = dict[str, Any]

COLUMNS = tuple(f.column for f in MarketData._meta.concrete_fields if not f.primary_key)
_JSON_COLUMNS = {"depth", "raw_data"}
# Columns a tick fills with its own attribute of the same name; the rest come from its
# instrument or are constants.
_TICK_COLUMNS = tuple(column for column in COLUMNS if column in Tick.__dataclass_fields__)
_tick_values = operator.attrgetter(*_TICK_COLUMNS)
_in_column_order = operator.itemgetter(*COLUMNS)


def _instrument_columns(instrument: Instrument | None) -> Row:
    """instrument_type, expiry and strike_price of the ticks of this instrument."""
    if instrument is None:
        return {"instrument_type": "", "expiry": "", "strike_price": None}
    return {
        "instrument_type": instrument.instrument_type,
        "expiry": instrument.expiry.isoformat() if instrument.expiry else "",
        "strike_price": instrument.strike,
    }


def _row(tick: Tick, instrument_columns: Row) -> Row:
    """Every column of the tick's row, by name (JSON and datetime values as Python objects)."""
    row = dict(zip(_TICK_COLUMNS, _tick_values(tick), strict=True))
    row.update(instrument_columns)
    row.update(tk=tick.token, ltpc=float(tick.ltpc), processed=False)
    if row["raw_data"] is None:
        row["raw_data"] = {}
    return row


def _json_text(value: dict[str, Any]) -> str:
    # ujson: the same JSON values as json.dumps (more compact text) in a third of its time.
    return ujson.dumps(value, escape_forward_slashes=False) if value else "{}"


def _sql_values(row: Row, received_at: Any) -> tuple[Any, ...]:
    """Column values in COLUMNS order as the SQL drivers take them: JSON as text."""
    depth = row["depth"]
    row.update(
        depth=None if depth is None else _json_text(depth),
        raw_data=_json_text(row["raw_data"]),
        received_at=received_at,
    )
    values: tuple[Any, ...] = _in_column_order(row)
    return values


def _sqlite_values(row: Row) -> tuple[Any, ...]:
    # What Django's adapt_datetimefield_value stores on SQLite (naive UTC text), for a
    # fraction of its cost.
    return _sql_values(row, str(row["received_at"].astimezone(UTC).replace(tzinfo=None)))


def _postgresql_values(row: Row) -> tuple[Any, ...]:
    return _sql_values(row, row["received_at"])


# Rows per statement: SQLite allows 32,766 parameters per statement.
_SQLITE_CHUNK = 500


@cache
def _sqlite_insert_sql(rows: int) -> str:
    one = f"({', '.join('?' * len(COLUMNS))})"
    return (
        f"INSERT OR IGNORE INTO market_data ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"VALUES {', '.join([one] * rows)}"
    )


def _insert_sqlite(ticks: list[Tick], rows: list[tuple[Any, ...]]) -> list[Tick]:
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
        assert db_type is not None  # every concrete column of the table has one
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


def _insert_postgresql(ticks: list[Tick], rows: list[tuple[Any, ...]]) -> list[Tick]:
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


class _MongoDBConnection(Protocol):
    # django-mongodb-backend's DatabaseWrapper (untyped; Django types `connection` as the
    # base wrapper). Under DEBUG it returns a logging wrapper with the same methods.
    def get_collection(self, name: str) -> "Collection[dict[str, Any]]": ...


def mongodb_collection() -> "Collection[dict[str, Any]]":
    return cast(_MongoDBConnection, connection).get_collection(MarketData._meta.db_table)


def _insert_mongodb(ticks: list[Tick], documents: list[dict[str, Any]]) -> list[Tick]:
    from pymongo.errors import BulkWriteError

    collection = mongodb_collection()
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details["writeErrors"]
        if any(item["code"] != 11000 for item in errors):  # only duplicate keys are expected
            raise
        failed = {item["index"] for item in errors}
        return [tick for index, tick in enumerate(ticks) if index not in failed]
    return list(ticks)


def _mongodb_document(row: Row) -> dict[str, Any]:
    instance = MarketData(**row)
    return {
        f.column: f.get_db_prep_save(getattr(instance, f.attname), connection)
        for f in MarketData._meta.concrete_fields
        if not f.primary_key
    }


_INSERTS: dict[str, tuple[Callable[[Row], Any], Callable[..., list[Tick]]]] = {
    "sqlite": (_sqlite_values, _insert_sqlite),
    "postgresql": (_postgresql_values, _insert_postgresql),
    "mongodb": (_mongodb_document, _insert_mongodb),
}


def ticks_insert_new(*, ticks: list[Tick], instruments: dict[str, Instrument]) -> list[Tick]:
    """Insert ticks unique in (symbol, received_at ms); return those that were not stored yet.

    Duplicates of stored rows are skipped by the database's unique index, so the rule holds
    across batches, processes and restarts without failing the rest of the batch.
    """
    if not ticks:
        return []
    prepare, insert = _INSERTS[connection.vendor]
    columns = {token: _instrument_columns(instrument) for token, instrument in instruments.items()}
    rows = [prepare(_row(tick, columns[tick.token])) for tick in ticks]
    return insert(ticks, rows)


# --- the stored tick before a moment ---


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


_PREVIOUS: dict[str, Callable[[dict[str, datetime]], dict[str, MarketData]]] = {
    "sqlite": _previous_sql,
    "postgresql": _previous_sql,
    "mongodb": _previous_orm,
}


def ticks_previous(*, first_seen: dict[str, datetime]) -> dict[str, MarketData]:
    """For each symbol, the newest stored tick before its moment (symbols without one are left
    out); only `ltpc`, `close` and `received_at` are loaded."""
    return _PREVIOUS[connection.vendor](first_seen)
