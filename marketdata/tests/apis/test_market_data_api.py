"""The /api/v1/market-data API: latest, symbol pages, filter, statistics, chart and symbols."""

from datetime import timedelta

import pytest

from marketdata.tests.conftest import TRADING_DAY, at_ist, make_tick, make_ticks, store
from marketdata.tests.selectors.options import option_tick, options

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("evening_clock")]

API = "/api/v1/market-data"
DAY = (2025, 1, 6)


def errors_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


@pytest.mark.parametrize(
    "path",
    ["latest", "symbol/NIFTY", "filter", "statistics", "chart/NIFTY", "symbols", "instruments"],
)
def test_every_endpoint_needs_a_token(api_client, path):
    assert api_client.get(f"{API}/{path}").status_code == 401


# --- latest ---


def test_latest_returns_the_newest_tick_of_each_streamed_symbol(user_client):
    store(
        [*make_ticks(3, ltpc=100.0), make_tick(ltpc=101.0, at=TRADING_DAY + timedelta(seconds=1))]
    )
    store([make_tick("SENSEX", ltpc=75000.0)])

    body = user_client.get(f"{API}/latest").json()

    assert [(t["symbol"], t["ltpc"]) for t in body] == [("NIFTY", 101.0), ("SENSEX", 75000.0)]
    assert body[0]["received_at"] == "2025-01-06T04:30:01Z"
    assert set(body[0]) >= {"token", "exchange", "ch", "chp", "data_quality", "is_realtime"}


def test_latest_can_be_limited_to_some_symbols(user_client):
    store([make_tick("NIFTY"), make_tick("SENSEX"), make_tick("BANKNIFTY")])

    body = user_client.get(f"{API}/latest", {"symbols": "sensex, NIFTY"}).json()

    assert [t["symbol"] for t in body] == ["NIFTY", "SENSEX"]


def test_latest_with_an_unknown_symbol_is_a_400_naming_symbols(user_client):
    errors = errors_of(user_client.get(f"{API}/latest", {"symbols": "NIFTY,NOPE,NADA"}))

    assert "NADA, NOPE" in errors["symbols"][0]


def test_latest_gives_quiet_symbols_their_newest_tick_beside_busy_ones(user_client):
    quiet = options(1)[0]
    store([option_tick(quiet, TRADING_DAY - timedelta(days=5), 80.0)])
    store(make_ticks(300, ltpc=23_000.0))

    body = user_client.get(f"{API}/latest", {"symbols": f"NIFTY,{quiet.symbol},SENSEX"}).json()

    assert [(t["symbol"], t["ltpc"], t["received_at"]) for t in body] == [
        ("NIFTY", 23_000.0, "2025-01-06T04:30:00Z"),
        (quiet.symbol, 80.0, "2025-01-01T04:30:00Z"),
    ]


def test_latest_takes_up_to_200_symbols_and_more_is_a_400_naming_symbols(user_client):
    symbols = ["NIFTY", *(option.symbol for option in options(199))]
    store([make_tick()])

    assert len(user_client.get(f"{API}/latest", {"symbols": ",".join(symbols)}).json()) == 1
    errors = errors_of(user_client.get(f"{API}/latest", {"symbols": ",".join([*symbols, "X"])}))
    assert "At most 200 symbols" in errors["symbols"][0]


# --- symbol/{symbol} ---


def test_symbol_ticks_come_newest_first_in_cursor_pages(user_client):
    store(make_ticks(5))

    first = user_client.get(f"{API}/symbol/NIFTY", {"page_size": 3}).json()
    second = user_client.get(first["next"]).json()

    times = [t["received_at"] for t in first["results"] + second["results"]]
    assert times == sorted(times, reverse=True) and len(set(times)) == 5
    assert second["next"] is None


def test_symbol_ticks_honour_from_and_to(user_client):
    store(make_ticks(10))

    body = user_client.get(
        f"{API}/symbol/nifty", {"from": "2025-01-06T09:59:55", "to": "2025-01-06T09:59:58+05:30"}
    ).json()

    assert [t["received_at"] for t in body["results"]] == [
        "2025-01-06T04:29:57Z", "2025-01-06T04:29:56Z", "2025-01-06T04:29:55Z",
    ]  # fmt: skip


def test_an_unknown_symbol_is_a_404(user_client):
    assert user_client.get(f"{API}/symbol/NOPE").status_code == 404
    assert user_client.get(f"{API}/chart/NOPE").status_code == 404


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page_size": 1001}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"cursor": "garbage"}, "cursor"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-13-01"}, "to"),
        ({"from": "2025-01-06T10:00:00", "to": "2025-01-06T09:00:00"}, "to"),
    ],
)
def test_bad_symbol_parameters_are_a_400_naming_the_parameter(user_client, params, parameter):
    store([make_tick()])

    assert parameter in errors_of(user_client.get(f"{API}/symbol/NIFTY", params))


# --- filter ---


@pytest.fixture
def mixed_ticks():
    store([
        make_tick("NIFTY", at=at_ist(DAY, "09:20:00"), ltpc=100.0),
        make_tick("NIFTY", at=at_ist(DAY, "09:21:00"), ltpc=101.0, is_realtime=False, source="backfill"),
        make_tick("SENSEX", at=at_ist(DAY, "09:22:00"), ltpc=300.0, high=250.0, low=200.0),
        make_tick("BANKNIFTY", at=at_ist(DAY, "09:23:00"), ltpc=400.0),
    ])  # fmt: skip


@pytest.mark.usefixtures("mixed_ticks")
@pytest.mark.parametrize(
    ("params", "prices"),
    [
        ({}, [400.0, 300.0, 101.0, 100.0]),
        ({"symbols": "NIFTY,SENSEX"}, [300.0, 101.0, 100.0]),
        ({"exchange": "BSE"}, [300.0]),
        ({"from": "2025-01-06T09:21:00", "to": "2025-01-06T09:23:00"}, [300.0, 101.0]),
        ({"min_price": 101, "max_price": 300}, [300.0, 101.0]),
        ({"data_quality": "SUSPECT"}, [300.0]),
        ({"is_realtime": "false"}, [101.0]),
        ({"source": "backfill"}, [101.0]),
        ({"ordering": "received_at", "symbols": "NIFTY"}, [100.0, 101.0]),
    ],
)
def test_filter_applies_every_given_condition(user_client, params, prices):
    body = user_client.get(f"{API}/filter", params).json()

    assert [t["ltpc"] for t in body["results"]] == prices


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"symbols": "NOPE"}, "symbols"),
        ({"min_price": "cheap"}, "min_price"),
        ({"min_price": 10, "max_price": 5}, "max_price"),
        ({"data_quality": "GREAT"}, "data_quality"),
        ({"is_realtime": "maybe"}, "is_realtime"),
        ({"ordering": "volume"}, "ordering"),
        ({"ordering": "ltpc"}, "ordering"),
        ({"from": "06/01/2025"}, "from"),
        ({"from": "2025-01-07", "to": "2025-01-06"}, "to"),
        ({"page_size": 5000}, "page_size"),
    ],
)
def test_bad_filter_parameters_are_a_400_naming_the_parameter(user_client, params, parameter):
    assert parameter in errors_of(user_client.get(f"{API}/filter", params))


# --- statistics ---


def test_statistics_summarise_each_symbol_and_the_totals(user_client):
    store([
        make_tick("NIFTY", at=at_ist((2025, 1, 3), "15:00:00"), ltpc=500.0, is_realtime=False),
        make_tick("NIFTY", at=at_ist(DAY, "09:15:00"), ltpc=100.0, is_realtime=False),
        make_tick("NIFTY", at=at_ist(DAY, "10:00:00"), ltpc=102.0, is_realtime=False),
        make_tick("NIFTY", at=at_ist(DAY, "11:00:00"), ltpc=101.0, is_realtime=False),
        make_tick("SENSEX", at=at_ist(DAY, "09:30:00"), ltpc=300.0, high=250.0, low=200.0),
    ])  # fmt: skip

    body = user_client.get(f"{API}/statistics").json()

    nifty, sensex = body["symbols"]
    assert nifty["symbol"] == "NIFTY" and nifty["count"] == 4
    assert (nifty["first_tick_at"], nifty["last_tick_at"]) == (
        "2025-01-03T09:30:00Z",
        "2025-01-06T05:30:00Z",
    )
    assert (nifty["last_price"], nifty["day"], nifty["day_high"], nifty["day_low"]) == (
        101.0,
        "2025-01-06",
        102.0,
        100.0,
    )
    assert nifty["quality"] == {"GOOD": 4}
    assert sensex["quality"] == {"SUSPECT": 1}
    assert body["totals"] == {
        "ticks": 5,
        "symbols": 2,
        "quality": {"GOOD": 4, "SUSPECT": 1},
        "today": 4,
    }


def test_statistics_give_each_symbol_the_high_and_low_of_its_own_last_day(user_client):
    store([
        make_tick("NIFTY", at=at_ist((2025, 1, 3), "10:00:00"), ltpc=90.0, is_realtime=False),
        make_tick("NIFTY", at=at_ist(DAY, "09:15:00"), ltpc=100.0, is_realtime=False),
        make_tick("BANKNIFTY", at=at_ist((2025, 1, 3), "09:20:00"), ltpc=48_000.0, is_realtime=False),
        make_tick("BANKNIFTY", at=at_ist((2025, 1, 3), "15:00:00"), ltpc=48_500.0, is_realtime=False),
        make_tick("SENSEX", at=at_ist(DAY, "09:30:00"), ltpc=300.0, is_realtime=False),
    ])  # fmt: skip

    body = user_client.get(f"{API}/statistics").json()

    days = {s["symbol"]: (s["day"], s["day_high"], s["day_low"], s["last_price"]) for s in body["symbols"]}  # fmt: skip
    assert days == {
        "BANKNIFTY": ("2025-01-03", 48_500.0, 48_000.0, 48_500.0),
        "NIFTY": ("2025-01-06", 100.0, 100.0, 100.0),
        "SENSEX": ("2025-01-06", 300.0, 300.0, 300.0),
    }


# --- chart ---


def test_chart_returns_candles_for_the_range(user_client):
    store(
        [
            make_tick(at=at_ist(DAY, "09:15:10"), ltpc=100.0),
            make_tick(at=at_ist(DAY, "09:16:10"), ltpc=110.0),
        ]
    )

    body = user_client.get(
        f"{API}/chart/NIFTY", {"interval": "1m", "from": "2025-01-06", "to": "2025-01-07"}
    ).json()

    assert (body["symbol"], body["interval"]) == ("NIFTY", "1m")
    assert (body["from"], body["to"]) == ("2025-01-05T18:30:00Z", "2025-01-06T18:30:00Z")
    assert body["candles"] == [
        {"time": "2025-01-06T09:15:00+05:30", "open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": None, "ticks": 1},
        {"time": "2025-01-06T09:16:00+05:30", "open": 110.0, "high": 110.0, "low": 110.0, "close": 110.0, "volume": None, "ticks": 1},
    ]  # fmt: skip


def test_chart_defaults_to_the_last_375_intervals(user_client):
    store([make_tick(at=at_ist(DAY, "15:00:00")), make_tick(at=at_ist(DAY, "09:15:00"))])

    body = user_client.get(f"{API}/chart/NIFTY").json()

    assert body["interval"] == "1m"
    assert [c["time"] for c in body["candles"]] == ["2025-01-06T15:00:00+05:30"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"interval": "2m"}, "interval"),
        ({"from": "soon"}, "from"),
        ({"from": "2025-01-06T10:00:00", "to": "2025-01-06T10:00:00"}, "to"),
        ({"from": "2025-01-01", "to": "2025-01-08", "interval": "1m"}, "from"),
    ],
)
def test_bad_chart_parameters_are_a_400_naming_the_parameter(user_client, params, parameter):
    assert parameter in errors_of(user_client.get(f"{API}/chart/NIFTY", params))


def test_a_chart_range_within_the_candle_limit_is_accepted(user_client):
    response = user_client.get(
        f"{API}/chart/NIFTY", {"from": "2020-01-01", "to": "2025-01-01", "interval": "1d"}
    )

    assert response.status_code == 200


# --- symbols and instruments ---


def test_symbols_lists_the_six_indices_with_their_last_price(user_client):
    store([make_tick("SENSEX", ltpc=75000.0)])

    body = user_client.get(f"{API}/symbols").json()

    by_symbol = {s["symbol"]: s for s in body}
    assert set(by_symbol) == {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX", "BANKEX"}
    assert by_symbol["SENSEX"] == {
        "symbol": "SENSEX", "name": "SENSEX", "token": "99919000", "exchange": "BSE",
        "exchange_type": 3, "last_price": 75000.0, "last_update": "2025-01-06T04:30:00Z",
    }  # fmt: skip
    assert by_symbol["NIFTY"]["last_price"] is None


def test_the_schema_documents_every_market_data_endpoint(api_client):
    schema = api_client.get("/openapi.json").json()

    for path in [
        "latest",
        "symbol/{symbol}",
        "filter",
        "statistics",
        "chart/{symbol}",
        "symbols",
        "instruments",
    ]:
        assert f"{API}/{path}" in schema["paths"]
