"""Backend-specific reads of the tick store: one implementation per backend, behind small functions.

- `ticks_latest`: the newest stored tick of each of a set of symbols, in one indexed query;
- `candle_rows`: OHLC buckets aggregated by the database.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ujson
from django.db import connection

from marketdata import storage
from marketdata.market_calendar import IST_OFFSET
from marketdata.models import MarketData

IST_OFFSET_SECONDS = int(IST_OFFSET.total_seconds())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the newest stored tick of each symbol ---

# Per wanted symbol, one backwards step on the unique (symbol, received_at) index: as cheap
# for a quiet option whose last tick is days old as for a busy index.
#
# PostgreSQL: given `symbol = x ORDER BY received_at DESC LIMIT 1`, the planner walks
# `received_at_-1` and filters by symbol whenever it thinks the symbol frequent (always, with
# only the six indices stored): a long walk past every other symbol's newer ticks when the
# symbol has not traded lately (SENSEX while BSE is shut and NSE trades). Ordering by
# (symbol, received_at) does not stop it, since an equality makes the planner drop `symbol`
# from the ordering. Written as the range `x <= symbol <= x` (the same rows), it keeps it:
# then only the unique index yields that order without a sort, so that is the plan.
#
# SQLite reads the symbols from one JSON array, so one statement serves any number of them
# (a UNION ALL per symbol would stop at 500 terms).
_LATEST_SQL = {
    "sqlite": (
        "SELECT market_data.* FROM json_each(%s) AS wanted "
        "JOIN market_data ON market_data.id = ("
        "SELECT newest.id FROM market_data AS newest WHERE newest.symbol = wanted.value "
        "ORDER BY newest.received_at DESC LIMIT 1)"
    ),
    "postgresql": (
        "SELECT newest.* FROM unnest(%s::text[]) AS wanted(symbol) "
        "CROSS JOIN LATERAL (SELECT * FROM market_data "
        "WHERE market_data.symbol >= wanted.symbol AND market_data.symbol <= wanted.symbol "
        "ORDER BY market_data.symbol DESC, market_data.received_at DESC LIMIT 1) AS newest"
    ),
}


def _latest_query(symbols: list[str]) -> tuple[str, list[Any]]:
    """The SQL of `ticks_latest` on this SQL backend, and its one parameter."""
    symbols_param = ujson.dumps(symbols) if connection.vendor == "sqlite" else symbols
    return _LATEST_SQL[connection.vendor], [symbols_param]


def _latest_sql(symbols: list[str]) -> list[MarketData]:
    sql, params = _latest_query(symbols)
    return list(MarketData.objects.raw(sql, params))


def _latest_mongodb(symbols: list[str]) -> list[MarketData]:
    """One aggregation: sorted like the unique index and grouped by symbol, MongoDB answers it
    with a DISTINCT_SCAN of `symbol_receivedAt_unique` (one index step per symbol)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"symbol": {"$in": symbols}}},
        {"$sort": {"symbol": 1, "received_at": -1}},
        {"$group": {"_id": "$symbol", "doc": {"$first": "$$ROOT"}}},
    ]
    documents = [group["doc"] for group in storage.mongodb_collection().aggregate(pipeline)]
    return _mongodb_instances(documents)


def _mongodb_instances(documents: list[dict[str, Any]]) -> list[MarketData]:
    """Model instances from whole documents, converted as a query's rows are (what
    django-mongodb-backend's raw_aggregate does)."""
    fields = MarketData._meta.concrete_fields
    compiler = MarketData.objects.all().query.get_compiler(connection=connection)
    rows: Any = [tuple(document.get(field.column) for field in fields) for document in documents]
    converters = compiler.get_converters(
        [field.get_col(MarketData._meta.db_table) for field in fields]
    )
    if converters:
        rows = compiler.apply_converters(rows, converters)
    names = [field.attname for field in fields]
    return [MarketData.from_db(connection.alias, names, list(row)) for row in rows]


_LATEST: dict[str, Callable[[list[str]], list[MarketData]]] = {
    "sqlite": _latest_sql,
    "postgresql": _latest_sql,
    "mongodb": _latest_mongodb,
}


def ticks_latest(*, symbols: list[str]) -> list[MarketData]:
    """The newest stored tick of each of `symbols` (no duplicates), whole, in any order;
    symbols without a tick are left out. One query for any number of symbols."""
    if not symbols:
        return []
    return _LATEST[connection.vendor](symbols)


# --- OHLC candles ---

# The whole seconds since the epoch of `received_at`. PostgreSQL: `date_part` is a double;
# `EXTRACT` is a numeric since PostgreSQL 14, several times slower over 100,000 rows.
_EPOCH_SQL = {
    "sqlite": "CAST(strftime('%%s', received_at) AS INTEGER)",
    "postgresql": "FLOOR(date_part('epoch', received_at))::bigint",
}

# Buckets are whole multiples of the interval counted from an IST midnight. One pass over the
# symbol's ticks in the range (the unique (symbol, received_at) index) aggregates each bucket;
# its open and close are the prices at its first and last time, one index step each. (Two
# window functions, one per ordering, sorted every tick twice: 4x slower at 10,000 candles.)
_BUCKETS_SQL = """
    SELECT ((({epoch}) + {offset}) / %s) * %s - {offset} AS bucket,
        MIN(received_at) AS first_at, MAX(received_at) AS last_at, MAX(ltpc) AS high,
        MIN(ltpc) AS low, MAX(volume) - MIN(volume) AS volume, COUNT(*) AS ticks
    FROM market_data
    WHERE symbol = %s AND received_at >= %s AND received_at < %s
    GROUP BY 1
"""

# SQLite takes the first and last prices in the same statement.
_CANDLES_SQLITE = """
WITH buckets AS ({buckets})
SELECT bucket,
    (SELECT ltpc FROM market_data WHERE symbol = %s AND received_at = first_at),
    high, low,
    (SELECT ltpc FROM market_data WHERE symbol = %s AND received_at = last_at),
    volume, ticks
FROM buckets ORDER BY bucket
"""

# PostgreSQL cannot know how few buckets there are (it guesses one per 1.5 ticks), so two
# lookups per bucket looked costly enough to JIT-compile the statement (0.8 s of compiling):
# the prices come from a second statement, one index step per time.
_CANDLE_PRICES_POSTGRESQL = (
    "SELECT received_at, ltpc FROM market_data WHERE symbol = %s AND received_at = ANY(%s)"
)


def candles_query(symbol: str, step: int, start: datetime, end: datetime) -> tuple[str, list[Any]]:
    """The (first) SQL statement of `candle_rows` on this SQL backend, and its parameters."""
    vendor = connection.vendor
    adapt = connection.ops.adapt_datetimefield_value
    params = [step, step, symbol, adapt(start), adapt(end)]
    buckets = _BUCKETS_SQL.format(epoch=_EPOCH_SQL[vendor], offset=IST_OFFSET_SECONDS)
    if vendor == "sqlite":
        return _CANDLES_SQLITE.format(buckets=buckets), [*params, symbol, symbol]
    return f"{buckets} ORDER BY bucket", params


def _candle_rows_sqlite(
    symbol: str, step: int, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(*candles_query(symbol, step, start, end))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def _candle_rows_postgresql(
    symbol: str, step: int, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(*candles_query(symbol, step, start, end))
        buckets = cursor.fetchall()
        if not buckets:
            return []
        times = [time for _, first, last, *_ in buckets for time in (first, last)]
        cursor.execute(_CANDLE_PRICES_POSTGRESQL, [symbol, times])
        price = dict(cursor.fetchall())
    return [
        (bucket, price[first], high, low, price[last], volume, ticks)
        for bucket, first, last, high, low, volume, ticks in buckets
    ]


def _candle_rows_mongodb(
    symbol: str, step: int, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    step_ms, offset_ms = step * 1000, IST_OFFSET_SECONDS * 1000
    # A date minus a date is their distance in milliseconds (MongoDB documents it for
    # $subtract); `$toLong` of a date gives the same on MongoDB but mongomock refuses it.
    shifted = {"$add": [{"$subtract": ["$received_at", EPOCH]}, offset_ms]}
    bucket_ms = {
        "$subtract": [
            {"$multiply": [{"$floor": {"$divide": [shifted, step_ms]}}, step_ms]},
            offset_ms,
        ]
    }
    pipeline: list[dict[str, Any]] = [
        {"$match": {"symbol": symbol, "received_at": {"$gte": start, "$lt": end}}},
        {"$sort": {"received_at": 1}},
        {
            "$group": {
                "_id": bucket_ms,
                "open": {"$first": "$ltpc"},
                "high": {"$max": "$ltpc"},
                "low": {"$min": "$ltpc"},
                "close": {"$last": "$ltpc"},
                "volume_max": {"$max": "$volume"},
                "volume_min": {"$min": "$volume"},
                "ticks": {"$sum": 1},
            }
        },
        {"$sort": {"_id": 1}},
    ]
    documents = storage.mongodb_collection().aggregate(pipeline)
    return [
        (
            int(doc["_id"]) // 1000,
            doc["open"],
            doc["high"],
            doc["low"],
            doc["close"],
            None if doc["volume_max"] is None else doc["volume_max"] - doc["volume_min"],
            doc["ticks"],
        )
        for doc in documents
    ]


_CANDLE_ROWS: dict[str, Callable[[str, int, datetime, datetime], list[tuple[Any, ...]]]] = {
    "sqlite": _candle_rows_sqlite,
    "postgresql": _candle_rows_postgresql,
    "mongodb": _candle_rows_mongodb,
}


def candle_rows(*, symbol: str, step: int, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    """(bucket epoch seconds, open, high, low, close, volume, ticks) of `symbol` in [start, end),
    in buckets of `step` seconds aligned on IST midnights, oldest first."""
    return _CANDLE_ROWS[connection.vendor](symbol, step, start, end)
