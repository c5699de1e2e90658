"""The normalized `Tick` (`marketdata/ticks.py`): a dataclass whose exchange time may be kept
as milliseconds and made into a datetime when first read."""

from dataclasses import asdict, fields, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from marketdata.ticks import EMPTY_RAW_DATA, EXCHANGE_MS_MAX, EXCHANGE_MS_MIN, Tick

AT = datetime(2025, 1, 6, 4, 30, 0, 123_000, tzinfo=UTC)
AT_MS = 1_736_137_800_123


def test_the_fields_are_those_storage_and_the_recorder_map():
    assert [f.name for f in fields(Tick)] == [
        "token", "symbol", "ltpc", "received_at", "exchange", "exchange_type", "source",
        "open", "high", "low", "close", "volume", "ch", "chp", "depth", "sequence",
        "is_realtime", "data_quality", "raw_data",
    ]  # fmt: skip
    assert list(Tick.__dataclass_fields__) == [f.name for f in fields(Tick)]


def test_keyword_construction_with_defaults():
    tick = Tick(token="99926000", symbol="NIFTY", ltpc=23500.5, received_at=AT)

    assert (tick.received_at, tick.exchange_ms, tick.exchange, tick.source) == (
        AT,
        AT_MS,
        "",
        "angelone",
    )
    assert (tick.open, tick.volume, tick.depth, tick.is_realtime, tick.data_quality) == (
        None,
        None,
        None,
        True,
        "",
    )
    assert tick.raw_data == {} and tick.raw_data is not Tick("1", "N", 1.0, AT).raw_data


def test_received_at_is_required():
    with pytest.raises(TypeError, match="received_at"):
        Tick(token="99926000", symbol="NIFTY", ltpc=1.0)  # type: ignore[call-arg]


def test_a_tick_made_from_milliseconds_equals_one_made_with_keywords():
    lean = Tick.from_exchange_ms("99926000", "NIFTY", 23500.5, AT_MS, "NSE", 1, "angelone", 9)
    keyword = Tick(
        token="99926000",
        symbol="NIFTY",
        ltpc=23500.5,
        received_at=AT,
        exchange="NSE",
        exchange_type=1,
        sequence=9,
    )

    assert lean == keyword
    assert repr(lean) == repr(keyword)
    assert lean.raw_data is EMPTY_RAW_DATA


@pytest.mark.parametrize("ms", [EXCHANGE_MS_MIN, -1, 0, AT_MS, EXCHANGE_MS_MAX], ids=str)
def test_received_at_from_milliseconds_is_exact_aware_utc(ms):
    tick = Tick.from_exchange_ms("1", "N", 1.0, ms, "NSE", 1, "angelone", None)

    assert tick.received_at == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert tick.received_at.tzinfo is UTC
    assert tick.exchange_ms == ms


def test_assigning_received_at_replaces_the_time_kept_as_milliseconds():
    tick = Tick.from_exchange_ms("1", "N", 1.0, AT_MS, "NSE", 1, "angelone", None)
    later = datetime(2025, 1, 6, 10, 0, 1, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=30)))

    tick.received_at = later

    assert tick.received_at is later
    assert tick.exchange_ms == 1_736_137_801_999  # floored to the millisecond
    assert tick == replace(tick)


def test_a_naive_received_at_is_kept_for_ingestion_to_reject():
    naive = datetime(2025, 1, 6, 10, 0)  # noqa: DTZ001 - the mistake under test
    tick = Tick(token="1", symbol="N", ltpc=1.0, received_at=naive)

    assert tick.received_at is naive
    with pytest.raises(TypeError):
        tick.exchange_ms  # noqa: B018 - no milliseconds for a time without a zone


def test_asdict_and_replace_see_received_at():
    tick = Tick.from_exchange_ms("1", "N", 1.0, AT_MS, "NSE", 1, "angelone", 3)

    assert asdict(tick)["received_at"] == AT
    assert replace(tick, symbol="M").received_at == AT
    assert "exchange_ms" not in asdict(tick)


def test_the_shared_empty_raw_data_refuses_changes():
    for change in (
        lambda d: d.__setitem__("k", 1),
        lambda d: d.update(k=1),
        lambda d: d.setdefault("k", 1),
        lambda d: d.pop("k", None),
        lambda d: d.clear(),
    ):
        with pytest.raises(TypeError, match="assign a new dict"):
            change(EMPTY_RAW_DATA)
    assert EMPTY_RAW_DATA == {}
