"""Expensive market-data reads (issue 13, section 7): a per-user limit on every market-data
read, statistics reused for a few seconds, daily candles kept in every run mode (the 1d chart
stores the closed days it had to read from ticks; a backfill rebuilds the days it changes),
closed days' intraday candles kept for a while, and filter orderings an index serves."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from marketdata import selectors
from marketdata.models import DailyCandle, Instrument, MarketData
from marketdata.ops import backfill
from marketdata.ops.daily import chart_candles
from marketdata.selectors import Candle
from marketdata.tasks import daily_candles_build, ticks_backfill
from marketdata.tests.conftest import IST, at_clock, make_tick, store
from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer

pytestmark = pytest.mark.django_db

API = "/api/v1/market-data"
MONDAY = datetime(2025, 1, 6, tzinfo=IST)  # Friday 3 and Monday 6 to Wednesday 8 trade
FRIDAY, TUESDAY, WEDNESDAY = (MONDAY + timedelta(days=n) for n in (-3, 1, 2))


def on(day: datetime, clock: str) -> datetime:
    return at_clock(clock, day)


# --- a per-user limit on market-data reads ---------------------------------------------------


@pytest.fixture
def three_reads_a_minute(settings) -> Iterator[None]:
    settings.MARKET_READ_THROTTLE_RATE = "3/min"
    with time_machine.travel(datetime(2025, 1, 6, 10, 0, 1, tzinfo=UTC), tick=False):
        yield


@pytest.mark.usefixtures("three_reads_a_minute")
def test_market_reads_are_limited_per_user_across_endpoints_with_retry_after(
    user_client, staff_client
):
    codes = [
        user_client.get(f"{API}/{path}").status_code for path in ("latest", "statistics", "symbols")
    ]
    refused = user_client.get(f"{API}/chart/NIFTY")
    other_user = staff_client.get(f"{API}/chart/NIFTY")

    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "59"  # the rest of the minute
    assert refused.json()["errors"] == {} and "throttled" in refused.json()["detail"].lower()
    assert other_user.status_code == 200


@pytest.mark.usefixtures("three_reads_a_minute")
@pytest.mark.parametrize("path", ["symbol/NIFTY", "filter", "instruments"])
def test_paged_market_reads_count_against_the_same_limit(user_client, path):
    codes = [user_client.get(f"{API}/{path}").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


@pytest.mark.usefixtures("three_reads_a_minute")
def test_the_limit_starts_again_in_the_next_window(user_client):
    for _ in range(3):
        user_client.get(f"{API}/latest")
    assert user_client.get(f"{API}/latest").status_code == 429

    with time_machine.travel(datetime(2025, 1, 6, 10, 1, 0, tzinfo=UTC), tick=False):
        assert user_client.get(f"{API}/latest").status_code == 200


# --- filter orderings -----------------------------------------------------------------------


def test_ordering_by_price_is_a_400_naming_ordering(user_client):
    response = user_client.get(f"{API}/filter", {"ordering": "-ltpc"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["ordering"]


# --- statistics, reused for a few seconds ---------------------------------------------------


@pytest.fixture
def market_day() -> Iterator[object]:
    with time_machine.travel(on(MONDAY, "11:00:00"), tick=False) as traveller:
        yield traveller


def test_statistics_within_the_period_read_no_database(market_day, django_assert_num_queries):
    store([make_tick("NIFTY", on(MONDAY, "10:00:00"))])
    first = selectors.market_statistics_cached(now=datetime.now(tz=UTC), render=dict)
    market_day.shift(4)

    with django_assert_num_queries(0):
        again = selectors.market_statistics_cached(now=datetime.now(tz=UTC), render=dict)

    assert again == first


def test_statistics_show_new_ticks_once_the_period_is_over(market_day, user_client, settings):
    assert settings.MARKET_STATISTICS_CACHE_SECONDS == 5
    store([make_tick("NIFTY", on(MONDAY, "10:00:00"))])
    assert user_client.get(f"{API}/statistics").json()["totals"]["ticks"] == 1
    store([make_tick("NIFTY", on(MONDAY, "10:30:00"))])

    market_day.shift(4)
    within = user_client.get(f"{API}/statistics").json()
    market_day.shift(2)
    after = user_client.get(f"{API}/statistics").json()

    assert within["totals"]["ticks"] == 1
    assert after["totals"]["ticks"] == 2
    assert after["symbols"][0]["last_tick_at"] == "2025-01-06T05:00:00Z"


@pytest.fixture
def before_midnight() -> Iterator[object]:
    with time_machine.travel(on(MONDAY, "23:59:58"), tick=False) as traveller:
        yield traveller


def test_statistics_are_computed_afresh_on_a_new_ist_day(before_midnight, user_client, settings):
    settings.MARKET_STATISTICS_CACHE_SECONDS = 3600
    store([make_tick("NIFTY", on(MONDAY, "15:00:00"))])
    assert user_client.get(f"{API}/statistics").json()["totals"]["today"] == 1

    before_midnight.move_to(on(TUESDAY, "00:00:01"))

    assert user_client.get(f"{API}/statistics").json()["totals"]["today"] == 0


def test_statistics_without_a_period_are_computed_for_every_request(user_client, settings):
    settings.MARKET_STATISTICS_CACHE_SECONDS = 0
    store([make_tick("NIFTY", on(MONDAY, "10:00:00"))])
    user_client.get(f"{API}/statistics")
    store([make_tick("NIFTY", on(MONDAY, "10:30:00"))])

    assert user_client.get(f"{API}/statistics").json()["totals"]["ticks"] == 2


# --- daily candles in every run mode ----------------------------------------------------------


def daily_chart(client, start: str = "2015-01-06", end: str = "2025-01-09") -> list[tuple]:
    body = client.get(f"{API}/chart/NIFTY", {"interval": "1d", "from": start, "to": end}).json()
    return [(c["time"][:10], c["open"], c["close"], c["ticks"]) for c in body["candles"]]


def built_days() -> list[str]:
    return [str(day) for day in DailyCandle.objects.order_by("date").values_list("date", flat=True)]


@pytest.fixture
def wednesday_afternoon() -> Iterator[None]:
    with time_machine.travel(on(WEDNESDAY, "14:00:00"), tick=False):
        yield


@pytest.mark.usefixtures("wednesday_afternoon")
def test_a_1d_chart_stores_the_closed_days_it_read_from_ticks_without_beat(user_client):
    store([
        make_tick("NIFTY", on(MONDAY, "09:15:00"), ltpc=100.0),
        make_tick("NIFTY", on(MONDAY, "15:00:00"), ltpc=110.0),
        make_tick("NIFTY", on(TUESDAY, "10:00:00"), ltpc=120.0),
        make_tick("NIFTY", on(WEDNESDAY, "10:00:00"), ltpc=130.0),
    ])  # fmt: skip
    expected = [
        ("2025-01-06", 100.0, 110.0, 2),
        ("2025-01-07", 120.0, 120.0, 1),
        ("2025-01-08", 130.0, 130.0, 1),  # today: from its ticks, not stored
    ]

    assert daily_chart(user_client) == expected
    assert built_days() == ["2025-01-06", "2025-01-07"]
    MarketData.objects.filter(received_at__lt=on(WEDNESDAY, "00:00:00")).delete()
    assert daily_chart(user_client) == expected  # the closed days outlive their ticks


@pytest.mark.usefixtures("wednesday_afternoon")
def test_a_day_missing_between_built_days_is_read_from_ticks_and_stored(user_client):
    store([
        make_tick("NIFTY", on(FRIDAY, "10:00:00"), ltpc=90.0),
        make_tick("NIFTY", on(MONDAY, "10:00:00"), ltpc=100.0),
        make_tick("NIFTY", on(TUESDAY, "10:00:00"), ltpc=120.0),
    ])  # fmt: skip
    for day in ("2025-01-03", "2025-01-07"):  # beat missed Monday
        daily_candles_build.apply(kwargs={"day": day}).get()

    chart = daily_chart(user_client, start="2025-01-01")

    assert chart == [
        ("2025-01-03", 90.0, 90.0, 1),
        ("2025-01-06", 100.0, 100.0, 1),
        ("2025-01-07", 120.0, 120.0, 1),
    ]
    assert built_days() == ["2025-01-03", "2025-01-06", "2025-01-07"]


@pytest.mark.usefixtures("wednesday_afternoon")
def test_days_cut_by_the_range_are_read_from_ticks_and_not_stored(user_client):
    store([
        make_tick("NIFTY", on(MONDAY, "09:30:00"), ltpc=100.0),
        make_tick("NIFTY", on(MONDAY, "14:00:00"), ltpc=105.0),
    ])  # fmt: skip

    chart = daily_chart(user_client, start="2025-01-06T12:00:00", end="2025-01-08")

    assert chart == [("2025-01-06", 105.0, 105.0, 1)]
    assert built_days() == []


# --- intraday candles of closed days, kept ---------------------------------------------------


def quarter_hours(client, start: str = "2025-01-06", end: str = "2025-01-09") -> list[tuple]:
    body = client.get(f"{API}/chart/NIFTY", {"interval": "15m", "from": start, "to": end}).json()
    return [(c["time"][:16], c["close"], c["ticks"]) for c in body["candles"]]


@pytest.mark.usefixtures("wednesday_afternoon")
def test_intraday_candles_of_closed_days_are_kept_and_today_s_are_always_fresh(user_client):
    store([
        make_tick("NIFTY", on(MONDAY, "09:20:00"), ltpc=100.0),
        make_tick("NIFTY", on(MONDAY, "09:40:00"), ltpc=101.0),
        make_tick("NIFTY", on(WEDNESDAY, "09:20:00"), ltpc=130.0),
    ])  # fmt: skip
    first = quarter_hours(user_client)
    MarketData.objects.filter(received_at__lt=on(TUESDAY, "00:00:00")).delete()
    store([make_tick("NIFTY", on(WEDNESDAY, "09:25:00"), ltpc=131.0)])

    again = quarter_hours(user_client)

    assert first == [
        ("2025-01-06T09:15", 100.0, 1),
        ("2025-01-06T09:30", 101.0, 1),
        ("2025-01-08T09:15", 130.0, 1),
    ]
    assert again == [*first[:2], ("2025-01-08T09:15", 131.0, 2)]  # Monday kept, today read


@pytest.fixture
def nifty_backfill(angelone_settings: AngelOnePeer) -> Iterator[None]:
    """Backfills of NIFTY alone, from the peer, by a client no earlier test left behind."""
    Instrument.objects.exclude(symbol="NIFTY").update(subscribed=False)
    backfill._client = None
    yield
    backfill._client = None


@pytest.mark.usefixtures("nifty_backfill")
def test_a_backfill_rebuilds_the_daily_candle_of_a_day_already_built():
    store([make_tick("NIFTY", on(MONDAY, "09:15:30") + timedelta(minutes=m)) for m in range(10)])
    store([make_tick("NIFTY", on(MONDAY, "09:30:30"))])  # 09:25-09:29 are missing
    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()
    assert len(minutes_charted()) == 11  # and kept: Monday is closed

    ticks_backfill.apply(
        kwargs={
            "start": on(MONDAY, "09:15:00").isoformat(),
            "end": on(MONDAY, "09:31:00").isoformat(),
        }
    ).get()

    candle = DailyCandle.objects.get(symbol="NIFTY", date=MONDAY.date())
    assert candle.tick_count == 11 + 5 * 4  # the backfilled minutes, four ticks each
    assert candle.quality["missing_minutes"] == 375 - 16
    assert len(minutes_charted()) == 16  # the kept 1m candles of Monday were forgotten


def minutes_charted() -> list[Candle]:
    return chart_candles(
        symbol="NIFTY",
        interval="1m",
        start=on(MONDAY, "09:00:00"),
        end=on(MONDAY, "10:00:00"),
        today=WEDNESDAY.date(),
    )
