"""The option chain API: /market-data/option-chain/{underlying} and .../expiries.

The clock stands at 10:00 IST on Monday 2025-01-06; the NIFTY options expire on Thursday
2025-01-09 (and 2025-01-30), priced by Black-76 at 14% volatility around a spot of 23,512.35.
"""

import math
from datetime import date, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings

from marketdata import demand
from marketdata.tests.apis.option_chain_helpers import (
    API,
    by_strike,
    chain_of,
    errors_of,
)
from marketdata.tests.conftest import TRADING_DAY
from marketdata.tests.options.chain_data import (
    EXPIRY,
    LATER_EXPIRY,
    RATE,
    SPOT,
    VOL,
    chain_list,
    fair_price,
    option_symbol,
    spot_store,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("market_clock", "fresh_demand")]


# --- access and input ---


@pytest.mark.parametrize("path", ["NIFTY", "NIFTY/expiries"])
def test_the_chain_needs_a_token(api_client, path):
    assert api_client.get(f"{API}/{path}").status_code == 401


@pytest.mark.parametrize("path", ["RELIANCE", "RELIANCE/expiries", "NIFTY50"])
def test_an_underlying_that_is_not_one_of_the_six_indices_is_a_404(user_client, path):
    response = user_client.get(f"{API}/{path}")

    assert response.status_code == 404
    assert "NIFTY, BANKNIFTY" in response.json()["detail"]


def test_an_index_with_no_options_in_the_master_has_no_chain_and_no_expiries(user_client):
    response = user_client.get(f"{API}/BANKEX")

    assert response.status_code == 404
    assert "no unexpired BANKEX option" in response.json()["detail"]
    assert user_client.get(f"{API}/bankex/expiries").json() == {
        "underlying": "BANKEX",
        "expiries": [],
    }


@pytest.mark.usefixtures("priced")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"strikes": 0}, "strikes"),
        ({"strikes": 26}, "strikes"),
        ({"strikes": "ten"}, "strikes"),
        ({"expiry": "2025-13-01"}, "expiry"),
        ({"expiry": "next week"}, "expiry"),
        ({"expiry": "2025-01-10"}, "expiry"),  # no NIFTY option expires then
    ],
)
def test_bad_chain_parameters_are_a_400_naming_the_field(user_client, params, field):
    assert field in errors_of(user_client.get(f"{API}/NIFTY", params))


# --- expiries ---


def test_expiries_are_the_unexpired_ones_nearest_first(user_client):
    chain_list(expiry=LATER_EXPIRY, strikes=[23_500.0])
    chain_list(expiry=EXPIRY, strikes=[23_500.0, 23_550.0])
    chain_list(expiry=date(2025, 1, 2), strikes=[23_500.0])  # expired
    chain_list(underlying="BANKNIFTY", expiry=date(2025, 1, 8), strikes=[50_000.0])

    body = user_client.get(f"{API}/nifty/expiries").json()

    assert body == {"underlying": "NIFTY", "expiries": ["2025-01-09", "2025-01-30"]}


def test_an_expiry_is_listed_until_1530_ist_of_its_day(clock_client):
    chain_list(expiry=EXPIRY, strikes=[23_500.0])
    chain_list(expiry=LATER_EXPIRY, strikes=[23_500.0])
    expiry_day = TRADING_DAY.replace(day=9)

    with time_machine.travel(expiry_day.replace(hour=15, minute=29, second=59), tick=False):
        before = clock_client.get(f"{API}/NIFTY/expiries").json()["expiries"]
    with time_machine.travel(expiry_day.replace(hour=15, minute=30), tick=False):
        after = clock_client.get(f"{API}/NIFTY/expiries").json()["expiries"]
        default = clock_client.get(f"{API}/NIFTY").json()["expiry"]

    assert before == ["2025-01-09", "2025-01-30"]
    assert after == ["2025-01-30"] and default == "2025-01-30"


# --- the chain ---


@pytest.mark.usefixtures("priced")
def test_the_chain_gives_the_spot_the_atm_strike_and_ten_strikes_each_side(user_client):
    body = chain_of(user_client)

    assert body["underlying"] == "NIFTY" and body["expiry"] == "2025-01-09"
    assert body["spot"] == {
        "symbol": "NIFTY",
        "price": SPOT,
        "at": "2025-01-06T04:30:00Z",
        "reasons": {},
    }
    assert body["atm_strike"] == 23_500.0
    assert [row["strike"] for row in body["strikes"]] == [23_000.0 + 50 * n for n in range(21)]
    atm = by_strike(body)[23_500.0]
    assert atm["reasons"] == {}
    assert atm["CE"]["symbol"] == "NIFTY09JAN2523500CE" and atm["PE"]["symbol"].endswith("PE")
    assert atm["CE"]["token"].isdigit()
    assert atm["CE"]["last_price"] == pytest.approx(fair_price(strike=23_500.0, kind="CE"))
    assert atm["CE"]["open_interest"] == 235_000 and atm["CE"]["volume"] == 23_500
    assert atm["CE"]["change"] == round(atm["CE"]["last_price"] - 100.0, 2)
    assert atm["CE"]["last_at"] == "2025-01-06T04:29:58Z"
    assert atm["CE"]["reasons"] == {} and atm["PE"]["reasons"] == {}


@pytest.mark.usefixtures("priced")
def test_every_option_of_the_chain_gives_back_the_volatility_it_was_priced_at(user_client):
    body = chain_of(user_client)

    for row in body["strikes"]:
        for side in (row["CE"], row["PE"]):
            assert side["iv"] == pytest.approx(VOL, abs=1e-6), side
            assert side["gamma"] > 0 and side["vega"] > 0 and side["theta"] < 0
    atm = by_strike(body)[23_500.0]
    assert 0.5 < atm["CE"]["delta"] < 0.6 and -0.5 < atm["PE"]["delta"] < -0.4
    # Put-call parity of deltas on a forward: delta(call) - delta(put) = e^{-rT}.
    years = body["model"]["time_to_expiry"]
    assert atm["CE"]["delta"] - atm["PE"]["delta"] == pytest.approx(math.exp(-RATE * years))


@pytest.mark.usefixtures("priced")
def test_the_model_states_its_inputs_and_reads_the_forward_from_put_call_parity(user_client):
    model = chain_of(user_client)["model"]

    years = ((date(2025, 1, 9) - date(2025, 1, 6)).days * 24 + 5.5) / (365 * 24)
    assert model["name"] == "black76" and model["rate"] == RATE
    assert model["time_to_expiry"] == pytest.approx(years, abs=1e-12)
    assert model["forward_source"] == "put_call_parity"
    assert model["forward_strikes"] == [23_450.0, 23_500.0, 23_550.0]
    assert model["forward"] == pytest.approx(SPOT * math.exp(RATE * years), abs=1e-6)
    assert model["as_of"] == "2025-01-06T04:30:00Z"
    assert model["expires_at"] == "2025-01-09T10:00:00Z"
    assert model["stale_after_seconds"] == 120.0
    assert model["reasons"] == {}


@pytest.mark.usefixtures("priced")
def test_strikes_sets_the_width_and_the_window_stops_at_the_listed_strikes(user_client):
    narrow = chain_of(user_client, strikes=2)
    spot_store(price=22_510.0, at=TRADING_DAY + timedelta(seconds=1))
    at_the_edge = chain_of(user_client, strikes=3)

    assert [row["strike"] for row in narrow["strikes"]] == [23_400, 23_450, 23_500, 23_550, 23_600]
    assert at_the_edge["atm_strike"] == 22_500.0
    assert [row["strike"] for row in at_the_edge["strikes"]] == [22_500, 22_550, 22_600, 22_650]


# --- live demand ---


@pytest.mark.usefixtures("priced")
def test_a_chain_request_asks_the_feed_to_stream_its_contracts_in_snap_quote(user_client):
    body = chain_of(user_client, strikes=1)

    streamed = {item.symbol: item.mode for item in demand.demand_read().instruments}
    contracts = [option_symbol("NIFTY", EXPIRY, k, kind) for k in (23_450, 23_500, 23_550) for kind in ("CE", "PE")]  # fmt: skip
    assert body["live"]["status"] == "requested" and body["live"]["symbols"] == 6
    assert body["live"]["grace_seconds"] == django_settings.LIVE_DEMAND_GRACE_SECONDS
    assert {symbol: streamed.get(symbol) for symbol in contracts} == dict.fromkeys(
        contracts, "snap_quote"
    )


@pytest.mark.usefixtures("priced")
def test_past_the_feeds_capacity_the_chain_still_answers_and_says_so(user_client, settings):
    settings.LIVE_DEMAND_MAX_INSTRUMENTS = 7  # the six indices and one more

    body = chain_of(user_client, strikes=1)

    assert body["live"]["status"] == "subscription_limit"
    assert "at most 7 instruments" in body["live"]["detail"]
    assert by_strike(body)[23_500.0]["CE"]["iv"] == pytest.approx(VOL, abs=1e-6)
    assert "1 subscription(s) refused" in demand.demand_health()


@pytest.mark.usefixtures("priced")
def test_with_redis_unreachable_the_chain_still_answers_and_says_so(user_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/5"  # nothing listens there

    body = chain_of(user_client, strikes=1)

    assert body["live"]["status"] == "unavailable"
    assert by_strike(body)[23_500.0]["PE"]["iv"] == pytest.approx(VOL, abs=1e-6)


def test_a_master_row_without_a_positive_strike_is_left_out(user_client):
    chain_list(strikes=[23_450.0, 23_500.0])
    chain_list(strikes=[-0.01])  # how the master marks "no strike"
    spot_store()

    body = chain_of(user_client)

    assert [row["strike"] for row in body["strikes"]] == [23_450.0, 23_500.0]
