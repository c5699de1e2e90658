"""Candles from stored ticks (`selectors.candles_for`): open and close by time, buckets on the
IST clock, volume, and the range."""

from datetime import timedelta

import pytest

from marketdata.selectors import candles_for
from marketdata.tests.conftest import at_ist, make_tick, store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("evening_clock")]

DAY = (2025, 1, 6)


def candles(interval: str, start: str = "09:00:00", end: str = "16:00:00"):
    return candles_for(
        symbol="NIFTY", interval=interval, start=at_ist(DAY, start), end=at_ist(DAY, end)
    )


def test_one_minute_candles_take_open_and_close_by_time_and_count_ticks():
    prices = {
        "09:15:10": 100.0,
        "09:15:20": 105.0,
        "09:15:40": 98.0,
        "09:15:59": 101.0,
        "09:16:05": 102.0,
    }
    store(
        [make_tick(at=at_ist(DAY, clock), ltpc=price) for clock, price in reversed(prices.items())]
    )

    first, second = candles("1m")

    assert first.time == at_ist(DAY, "09:15:00")
    assert (first.open, first.high, first.low, first.close, first.ticks) == (
        100.0,
        105.0,
        98.0,
        101.0,
        4,
    )
    assert (second.time, second.open, second.close, second.ticks) == (
        at_ist(DAY, "09:16:00"),
        102.0,
        102.0,
        1,
    )


@pytest.mark.parametrize(
    ("interval", "clock", "bucket"),
    [
        ("3m", "09:17:59", "09:15:00"),
        ("5m", "09:19:59", "09:15:00"),
        ("5m", "09:20:00", "09:20:00"),
        ("15m", "09:44:00", "09:30:00"),
        ("30m", "09:44:00", "09:30:00"),
        ("1h", "09:15:00", "09:00:00"),
        ("1d", "15:29:00", "00:00:00"),
    ],
)
def test_buckets_are_aligned_to_the_ist_clock(interval, clock, bucket):
    store([make_tick(at=at_ist(DAY, clock))])

    (candle,) = candles(interval, start="00:00:00", end="23:59:59")

    assert candle.time == at_ist(DAY, bucket)
    assert candle.time.utcoffset() == timedelta(hours=5, minutes=30)


def test_volume_is_the_growth_of_the_cumulative_day_volume_within_the_bucket():
    store([
        make_tick(at=at_ist(DAY, "09:15:01"), volume=1000),
        make_tick(at=at_ist(DAY, "09:15:30"), volume=1600),
        make_tick(at=at_ist(DAY, "09:16:00")),
    ])  # fmt: skip

    with_volume, without = candles("1m")

    assert (with_volume.volume, without.volume) == (600, None)


def test_candles_cover_only_the_range_and_the_symbol():
    store([make_tick(at=at_ist(DAY, "09:15:00")), make_tick(at=at_ist(DAY, "10:00:00"))])
    store([make_tick("BANKNIFTY", at=at_ist(DAY, "09:30:00"))])

    (candle,) = candles("1m", start="09:30:00", end="10:00:01")

    assert candle.time == at_ist(DAY, "10:00:00")
