"""Storing ticks (`services.tick_ingest`): duplicates, validation, grading and market hours."""

import logging
import math
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from django.db import connection
from django.test import override_settings

from marketdata import services
from marketdata.models import MarketData, MarketSession
from marketdata.services import tick_ingest
from marketdata.tests.conftest import IST, TRADING_DAY, at_ist, make_tick, make_ticks
from testing.race import run_together

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("market_clock")]


def stored_count(**conditions) -> int:
    return MarketData.objects.filter(**conditions).count()


def test_a_valid_batch_is_stored_and_returned_graded():
    result = tick_ingest(ticks=make_ticks(3) + make_ticks(2, "SENSEX"))

    assert len(result.stored) == 5
    assert (result.duplicates, result.after_hours, result.rejected) == (0, 0, {})
    assert {tick.data_quality for tick in result.stored} == {"GOOD"}
    assert stored_count() == 5


def test_a_stored_row_carries_the_instrument_details():
    tick_ingest(ticks=[make_tick("SENSEX", exchange="", exchange_type=None)])

    row = MarketData.objects.get()
    assert (row.tk, row.token, row.symbol) == ("99919000", "99919000", "SENSEX")
    assert (row.exchange, row.exchange_type, row.instrument_type) == ("BSE", 3, "AMXIDX")
    assert row.received_at == TRADING_DAY
    assert row.processed is False


def test_duplicate_ticks_within_a_batch_are_stored_once():
    result = tick_ingest(ticks=[*make_ticks(3), make_tick(), make_tick()])

    assert len(result.stored) == 3
    assert result.duplicates == 2
    assert stored_count() == 3


def test_duplicate_ticks_across_batches_are_stored_once_and_not_returned_again():
    tick_ingest(ticks=make_ticks(3))

    again = tick_ingest(ticks=[*make_ticks(3), make_tick(at=TRADING_DAY - timedelta(minutes=5))])

    assert [tick.received_at for tick in again.stored] == [TRADING_DAY - timedelta(minutes=5)]
    assert again.duplicates == 3
    assert stored_count() == 4


def test_ticks_within_the_same_millisecond_are_one_tick_at_millisecond_precision():
    at = TRADING_DAY - timedelta(seconds=1)
    first, second = at.replace(microsecond=123_400), at.replace(microsecond=123_900)

    result = tick_ingest(ticks=[make_tick(at=first), make_tick(at=second)])

    assert result.duplicates == 1
    assert MarketData.objects.get().received_at == at.replace(microsecond=123_000)


def test_the_same_time_on_two_symbols_is_two_ticks():
    result = tick_ingest(ticks=[make_tick("NIFTY"), make_tick("BANKNIFTY")])

    assert len(result.stored) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestion_of_the_same_ticks_stores_each_once():
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite's in-memory test database uses a shared cache, where a second writer fails "
            "at once instead of waiting as it does on the file database (WAL, busy timeout)."
        )
    writers = [partial(tick_ingest, ticks=make_ticks(200)) for _ in range(3)]

    results = run_together(*writers)

    assert sum(len(result.stored) for result in results) == 200
    assert stored_count() == 200


BAD_TICKS = {
    "missing_token": {"token": ""},
    "missing_symbol": {"symbol": ""},
    "invalid_price": {"ltpc": 0.0},
    "high_below_low": {"high": 100.0, "low": 200.0},
    "invalid_timestamp": {"received_at": datetime(2025, 1, 6, 10, 0)},  # noqa: DTZ001 - the bug under test
    "future_timestamp": {"received_at": TRADING_DAY + timedelta(seconds=6)},
    "unknown_token": {"token": "12345"},
    "symbol_mismatch": {"symbol": "BANKNIFTY"},
}


@pytest.mark.parametrize("reason", BAD_TICKS)
def test_a_bad_tick_is_counted_by_reason_and_the_rest_of_the_batch_is_stored(reason):
    bad = make_tick(at=TRADING_DAY - timedelta(minutes=1), **BAD_TICKS[reason])

    result = tick_ingest(ticks=[*make_ticks(2), bad])

    assert result.rejected == {reason: 1}
    assert len(result.stored) == 2
    assert stored_count() == 2


@pytest.mark.parametrize("price", [-1.0, math.nan, math.inf, None, "23500", True])
def test_a_price_that_is_not_a_finite_positive_number_is_rejected(price):
    result = tick_ingest(ticks=[make_tick(ltpc=price)])

    assert result.rejected == {"invalid_price": 1}
    assert stored_count() == 0


def test_a_timestamp_within_the_clock_skew_allowance_is_accepted():
    result = tick_ingest(ticks=[make_tick(at=TRADING_DAY + timedelta(seconds=4))])

    assert len(result.stored) == 1


@pytest.fixture
def fresh_rejection_log(monkeypatch):
    monkeypatch.setattr(services, "_rejection_log", services._OncePerMinute())


@pytest.mark.usefixtures("fresh_rejection_log")
def test_rejections_are_logged_once_per_reason_per_minute(caplog):
    with caplog.at_level(logging.WARNING, logger="marketdata.services"):
        tick_ingest(ticks=[make_tick(ltpc=0.0), make_tick(ltpc=-1.0)])
        tick_ingest(ticks=[make_tick(ltpc=0.0)])
        tick_ingest(ticks=[make_tick(token="12345")])

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "Rejected 2 tick(s): invalid_price" in messages[0]
    assert "unknown_token" in messages[1]


# --- market hours ---


@pytest.fixture
def after_the_close(market_clock):
    market_clock.move_to(TRADING_DAY.replace(hour=20))


@pytest.mark.usefixtures("after_the_close")
@pytest.mark.parametrize(
    ("clock", "kept"),
    [("09:14:59", False), ("09:15:00", True), ("15:30:00", True), ("15:30:01", False)],
)
def test_only_ticks_inside_0915_to_1530_ist_are_kept(clock, kept):
    result = tick_ingest(ticks=[make_tick(at=at_ist((2025, 1, 6), clock))])

    assert (len(result.stored), result.after_hours) == ((1, 0) if kept else (0, 1))


@pytest.mark.usefixtures("after_the_close")
def test_the_last_millisecond_of_1530_is_inside_the_session():
    result = tick_ingest(
        ticks=[make_tick(at=at_ist((2025, 1, 6), "15:30:00") + timedelta(microseconds=999_000))]
    )

    assert len(result.stored) == 1


@pytest.mark.parametrize(
    ("day", "why"),
    [((2025, 1, 4), "Saturday"), ((2025, 1, 5), "Sunday"), ((2025, 2, 26), "Maha Shivaratri")],
)
def test_ticks_on_a_weekend_or_an_exchange_holiday_are_dropped(market_clock, day, why):
    market_clock.move_to(at_ist(day, "16:00:00"))

    result = tick_ingest(
        ticks=[
            make_tick(at=at_ist(day, "10:00:00")),
            make_tick("SENSEX", at=at_ist(day, "10:00:00")),
        ]
    )

    assert (len(result.stored), result.after_hours) == (0, 2), why


def test_historical_backfill_may_bypass_the_market_hours(market_clock):
    market_clock.move_to(at_ist((2025, 1, 4), "16:00:00"))

    result = tick_ingest(
        ticks=[make_tick(at=at_ist((2025, 1, 4), "10:00:00"))], enforce_market_hours=False
    )

    assert len(result.stored) == 1


def test_a_staff_closure_shuts_that_exchange_only():
    MarketSession.objects.create(
        date=TRADING_DAY.date(), exchange="NSE", kind="CLOSED", note="Outage"
    )

    result = tick_ingest(ticks=[make_tick("NIFTY"), make_tick("SENSEX")])

    assert [tick.symbol for tick in result.stored] == ["SENSEX"]
    assert result.after_hours == 1


def test_a_special_session_opens_a_weekend_with_its_own_hours(market_clock):
    saturday = (2025, 2, 1)
    market_clock.move_to(at_ist(saturday, "20:00:00"))
    MarketSession.objects.create(
        date=datetime(*saturday).date(), exchange="NSE", kind="SPECIAL",  # noqa: DTZ001 - a date
        opens_at=at_ist(saturday, "18:00:00").time(), closes_at=at_ist(saturday, "19:00:00").time(),
    )  # fmt: skip
    clocks = ["17:59:59", "18:00:00", "18:30:00", "19:00:00", "19:00:01"]

    result = tick_ingest(ticks=[make_tick(at=at_ist(saturday, clock)) for clock in clocks])

    kept = [tick.received_at.astimezone(IST).strftime("%H:%M:%S") for tick in result.stored]
    assert kept == ["18:00:00", "18:30:00", "19:00:00"]
    assert result.after_hours == 2


def test_a_muhurat_session_on_a_holiday_keeps_its_ticks(market_clock):
    diwali = (2025, 10, 21)  # an NSE holiday with an evening Muhurat session
    market_clock.move_to(at_ist(diwali, "16:00:00"))
    MarketSession.objects.create(
        date=datetime(*diwali).date(), exchange="NSE", kind="SPECIAL",  # noqa: DTZ001 - a date
        opens_at=at_ist(diwali, "13:45:00").time(), closes_at=at_ist(diwali, "14:45:00").time(),
    )  # fmt: skip

    result = tick_ingest(
        ticks=[make_tick(at=at_ist(diwali, "14:00:00")), make_tick(at=at_ist(diwali, "10:00:00"))]
    )

    assert len(result.stored) == 1
    assert result.after_hours == 1


# --- quality grading and change ---


def quality_of(result) -> list[str]:
    return [tick.data_quality for tick in result.stored]


@override_settings(MARKET_DATA_JUMP_PERCENT=3.0)
def test_a_jump_over_the_threshold_from_the_previous_stored_tick_is_suspect():
    tick_ingest(ticks=[make_tick(at=TRADING_DAY - timedelta(seconds=10), ltpc=100.0)])

    result = tick_ingest(ticks=[
        make_tick(at=TRADING_DAY - timedelta(seconds=2), ltpc=103.0),
        make_tick(at=TRADING_DAY - timedelta(seconds=1), ltpc=110.0),
    ])  # fmt: skip

    assert quality_of(result) == ["GOOD", "SUSPECT"]
    assert MarketData.objects.get(ltpc=110.0).data_quality == "SUSPECT"


@override_settings(MARKET_DATA_JUMP_PERCENT=3.0)
def test_a_gap_from_the_previous_session_is_not_a_suspect_jump(market_clock):
    tick_ingest(
        ticks=[make_tick(at=TRADING_DAY - timedelta(days=3), ltpc=100.0)],
        enforce_market_hours=False,
    )

    result = tick_ingest(ticks=[make_tick(ltpc=120.0)])

    assert quality_of(result) == ["GOOD"]


def test_a_price_outside_the_days_range_is_suspect():
    result = tick_ingest(ticks=[make_tick(ltpc=130.0, high=120.0, low=100.0)])

    assert quality_of(result) == ["SUSPECT"]


@override_settings(MARKET_DATA_STALE_SECONDS=60)
def test_a_realtime_tick_with_an_old_exchange_time_is_stale_but_backfill_is_not():
    old = TRADING_DAY - timedelta(seconds=61)
    result = tick_ingest(ticks=[
        make_tick(at=old),
        make_tick("SENSEX", at=old, is_realtime=False),
        make_tick("BANKNIFTY", at=TRADING_DAY - timedelta(seconds=59)),
    ])  # fmt: skip

    assert {t.symbol: t.data_quality for t in result.stored} == {
        "NIFTY": "STALE", "SENSEX": "GOOD", "BANKNIFTY": "GOOD",
    }  # fmt: skip


def test_change_is_computed_from_the_previous_close_when_not_sent():
    result = tick_ingest(ticks=[make_tick(ltpc=23600.0, close=23500.0)])

    assert (result.stored[0].ch, result.stored[0].chp) == (100.0, 0.43)
    assert (MarketData.objects.get().ch, MarketData.objects.get().chp) == (100.0, 0.43)


def test_change_sent_by_the_source_is_kept():
    result = tick_ingest(ticks=[make_tick(ltpc=23600.0, close=23500.0, ch=1.0, chp=2.0)])

    assert (result.stored[0].ch, result.stored[0].chp) == (1.0, 2.0)


def test_a_tick_without_a_close_takes_it_from_the_previous_tick_of_the_session():
    tick_ingest(ticks=[make_tick(at=TRADING_DAY - timedelta(seconds=5), close=23000.0)])

    result = tick_ingest(ticks=[make_tick(ltpc=23230.0)])

    assert (result.stored[0].close, result.stored[0].ch, result.stored[0].chp) == (
        23000.0,
        230.0,
        1.0,
    )


def test_the_first_tick_of_a_day_takes_the_previous_sessions_last_price_as_close():
    friday_close = datetime(2025, 1, 3, 15, 29, 59, tzinfo=IST)
    tick_ingest(ticks=[make_tick(at=friday_close, ltpc=23000.0, close=22000.0)])

    result = tick_ingest(ticks=[make_tick(ltpc=23460.0)])

    assert (result.stored[0].close, result.stored[0].chp) == (23000.0, 2.0)


def test_stored_ticks_come_back_in_time_order():
    ticks = make_ticks(3)

    result = tick_ingest(ticks=list(reversed(ticks)))

    assert [t.received_at for t in result.stored] == sorted(
        t.received_at.astimezone(UTC) for t in ticks
    )
