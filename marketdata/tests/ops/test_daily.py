"""The daily jobs (`ops/daily.py`), run as beat runs them: daily candles with the day's quality
summary, and the retention of stored ticks."""

from datetime import UTC, timedelta

import pytest

from marketdata.models import DailyCandle, MarketData
from marketdata.selectors import candles_for
from marketdata.tasks import daily_candles_build, ticks_purge
from marketdata.tests.conftest import TRADING_DAY, at_clock, make_tick, store

pytestmark = pytest.mark.django_db


# --- daily candles and the day's quality summary --------------------------------------------


def test_daily_candles_are_built_after_the_close_with_a_quality_summary():
    day_ticks = [
        make_tick("NIFTY", at_clock("09:15:00"), ltpc=23000.0, volume=100),
        make_tick("NIFTY", at_clock("10:00:00"), ltpc=23120.0, volume=200),
        make_tick("NIFTY", at_clock("12:00:00"), ltpc=22950.0, volume=300),
        make_tick("NIFTY", at_clock("15:29:59"), ltpc=23050.0, volume=400),
        make_tick(
            "NIFTY", at_clock("15:29:59") - timedelta(seconds=1), ltpc=23040.0, is_realtime=False
        ),
        make_tick("SENSEX", at_clock("11:00:00"), ltpc=76000.0),
    ]
    next_day = make_tick("NIFTY", at_clock("09:20:00", TRADING_DAY + timedelta(days=1)), ltpc=1.0)
    store([*day_ticks, next_day])

    assert daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get() == 2

    nifty = DailyCandle.objects.get(symbol="NIFTY", date=TRADING_DAY.date())
    assert (nifty.open, nifty.high, nifty.low, nifty.close) == (23000.0, 23120.0, 22950.0, 23050.0)
    assert (nifty.tick_count, nifty.volume) == (5, 300)
    assert nifty.first_tick_at == at_clock("09:15:00")
    assert nifty.last_tick_at == at_clock("15:29:59")
    assert sum(nifty.quality["by_quality"].values()) == 5
    assert (nifty.quality["realtime"], nifty.quality["not_realtime"]) == (4, 1)
    assert nifty.quality["session_minutes"] == 375
    assert nifty.quality["missing_minutes"] == 375 - 4  # 09:15, 10:00, 12:00 and 15:29
    assert DailyCandle.objects.get(symbol="SENSEX").close == 76000.0


def test_rebuilding_a_day_replaces_its_candle():
    store([make_tick("NIFTY", at_clock("09:15:00"), ltpc=23000.0)])
    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()
    store([make_tick("NIFTY", at_clock("10:15:00"), ltpc=23100.0, is_realtime=False)])

    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()

    candle = DailyCandle.objects.get(symbol="NIFTY")
    assert (candle.close, candle.tick_count) == (23100.0, 2)


def test_the_1d_chart_reads_built_days_so_they_outlive_their_ticks(settings):
    next_day = TRADING_DAY + timedelta(days=1)
    store(
        [
            make_tick("NIFTY", at_clock("09:15:00"), ltpc=23000.0),
            make_tick("NIFTY", at_clock("15:00:00"), ltpc=23200.0),
            make_tick("NIFTY", at_clock("09:30:00", next_day), ltpc=23300.0),
        ]
    )
    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()
    settings.MARKETDATA_RETENTION_DAYS = 1
    assert ticks_purge.apply(kwargs={"now": at_clock("18:00:00", next_day).isoformat()}).get() == 2

    candles = candles_for(
        symbol="NIFTY",
        interval="1d",
        start=TRADING_DAY - timedelta(days=3),
        end=next_day.replace(hour=23),
    )

    assert [(c.time.date().day, c.open, c.close, c.ticks) for c in candles] == [
        (6, 23000.0, 23200.0, 2),  # built after the close; its ticks are gone
        (7, 23300.0, 23300.0, 1),  # today, from the ticks
    ]


# --- retention ----------------------------------------------------------------------------


def test_retention_deletes_ticks_older_than_the_setting_in_batches(settings, monkeypatch):
    store([make_tick("NIFTY", TRADING_DAY - timedelta(days=d)) for d in (40, 39, 38, 10)])
    settings.MARKETDATA_RETENTION_DAYS = 30
    monkeypatch.setattr("marketdata.ops.daily.PURGE_BATCH", 2)

    assert ticks_purge.apply(kwargs={"now": TRADING_DAY.isoformat()}).get() == 3
    assert list(MarketData.objects.values_list("received_at", flat=True)) == [
        (TRADING_DAY - timedelta(days=10)).astimezone(UTC)
    ]


def test_retention_keeps_everything_by_default(settings):
    store([make_tick("NIFTY", TRADING_DAY - timedelta(days=3650))])
    assert settings.MARKETDATA_RETENTION_DAYS == 0
    assert ticks_purge.apply().get() == 0
    assert MarketData.objects.count() == 1
