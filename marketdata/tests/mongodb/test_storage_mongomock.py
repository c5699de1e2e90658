"""The raw MongoDB code of `marketdata.storage` executed on mongomock (issue 15), with the
fixtures of the SQL tests, and compared with what SQLite gives for the same ticks.

mongomock stands for the server: it runs these pipelines and the unique index, but not
MongoDB's planner, its index choice (DISTINCT_SCAN), its sessions or its wire protocol.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import mongomock
import pytest
from mongomock.collection import Collection

from marketdata import storage, tick_queries
from marketdata.models import MarketData
from marketdata.tests.conftest import at_ist, make_tick, make_ticks, store
from marketdata.ticks import Tick

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("evening_clock")]

DAY = (2025, 1, 6)


def _unique_index(collection: Collection) -> str:
    """symbol_receivedAt_unique as the model (and so the migration sets) declares it."""
    constraint = next(
        c for c in MarketData._meta.constraints if c.name == "symbol_receivedAt_unique"
    )
    keys = [(MarketData._meta.get_field(name).column, 1) for name in constraint.fields]
    return collection.create_index(keys, unique=True, name=constraint.name)


@pytest.fixture
def collection(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collection]:
    # tz_aware: dates come back aware, as the pipeline's EPOCH constant is; MongoDB itself
    # compares BSON dates and needs neither.
    client = mongomock.MongoClient(tz_aware=True)
    market_data = client["trading_signals"]["market_data"]
    _unique_index(market_data)
    monkeypatch.setattr(storage, "mongodb_collection", lambda: market_data)
    yield market_data
    client.close()


def _document(tick: Tick) -> dict[str, Any]:
    """The tick's document: its columns by name, JSON as objects and dates as dates."""
    return storage._row(tick, storage._instrument_columns(None))


def _stored_documents() -> list[dict[str, Any]]:
    """What the SQL tests stored, as documents (the same ticks, after the service's grading)."""
    return [
        {k: v for k, v in row.items() if k != "id"}
        for row in MarketData.objects.values(*[f.attname for f in MarketData._meta.concrete_fields])
    ]


def test_insert_stores_each_symbol_and_moment_once_and_names_the_new_ticks(collection):
    first = make_ticks(5)
    assert storage._insert_mongodb(first, [_document(t) for t in first]) == first

    # Two stored already, three new, given out of order with the duplicates between them.
    later = make_ticks(3, start=first[-1].received_at + timedelta(seconds=3))
    batch = [later[0], first[1], later[1], first[4], later[2]]
    new = storage._insert_mongodb(batch, [_document(t) for t in batch])

    assert new == later
    assert collection.count_documents({}) == 8
    assert len({(d["symbol"], d["received_at"]) for d in collection.find()}) == 8


def test_the_unique_index_rejects_a_duplicate_alone(collection):
    from pymongo.errors import DuplicateKeyError

    tick = make_tick()
    collection.insert_one(_document(tick))
    with pytest.raises(DuplicateKeyError):
        collection.insert_one(_document(tick))
    # The same moment of another symbol is no duplicate.
    collection.insert_one(_document(make_tick("BANKNIFTY")))
    assert collection.count_documents({}) == 2


def test_insert_raises_errors_other_than_duplicate_keys(collection, monkeypatch):
    from pymongo.errors import BulkWriteError

    def failing(*args: Any, **kwargs: Any) -> None:
        raise BulkWriteError({"writeErrors": [{"index": 0, "code": 121, "errmsg": "invalid"}]})

    monkeypatch.setattr(collection, "insert_many", failing)
    with pytest.raises(BulkWriteError):
        storage._insert_mongodb([make_tick()], [_document(make_tick())])


PRICES = {  # test_candles' one-minute fixture, and ticks in later buckets with volume
    "09:15:10": (100.0, 10),
    "09:15:20": (105.0, 12),
    "09:15:40": (98.0, 20),
    "09:15:59": (101.0, 25),
    "09:16:05": (102.0, 30),
    "09:44:00": (99.5, 31),
    "10:02:30": (103.0, 50),
    "13:59:59": (104.5, 70),
}


@pytest.mark.parametrize("interval", ["1m", "3m", "5m", "15m", "30m", "1h", "1d"])
def test_candle_pipeline_gives_what_sqlite_gives(collection, interval):
    from marketdata.selectors import INTERVALS

    store(
        [
            make_tick(at=at_ist(DAY, clock), ltpc=price, volume=volume)
            for clock, (price, volume) in reversed(PRICES.items())
        ]
    )
    collection.insert_many(_stored_documents())
    start, end = at_ist(DAY, "00:00:00"), at_ist(DAY, "23:59:59")
    step = INTERVALS[interval]

    on_sqlite = tick_queries.candle_rows(symbol="NIFTY", step=step, start=start, end=end)
    on_mongodb = tick_queries._candle_rows_mongodb("NIFTY", step, start, end)

    assert on_mongodb == [tuple(row) for row in on_sqlite]
    assert on_mongodb  # the fixture fills buckets on every interval


def test_latest_aggregation_gives_what_sqlite_gives(collection, monkeypatch):
    store(make_ticks(5) + make_ticks(3, "BANKNIFTY", start=at_ist(DAY, "09:30:00")))
    collection.insert_many(_stored_documents())
    # The documents as the aggregation returns them (model instances are built from them by
    # the backend's converters, which need its connection).
    monkeypatch.setattr(tick_queries, "_mongodb_instances", lambda documents: documents)

    on_sqlite = {
        t.symbol: t.received_at
        for t in tick_queries.ticks_latest(symbols=["NIFTY", "BANKNIFTY", "SENSEX"])
    }
    on_mongodb = {
        d["symbol"]: d["received_at"]
        for d in tick_queries._latest_mongodb(["NIFTY", "BANKNIFTY", "SENSEX"])
    }

    assert on_mongodb == on_sqlite
    assert on_mongodb.keys() == {"NIFTY", "BANKNIFTY"}
