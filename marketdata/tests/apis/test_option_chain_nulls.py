"""The option chain API's nulls and their reasons: no price, stale, below intrinsic, not in
the streamed mode, expiry day, after the close.

The clock stands at 10:00 IST on Monday 2025-01-06; the NIFTY options expire on Thursday
2025-01-09 (and 2025-01-30), priced by Black-76 at 14% volatility around a spot of 23,512.35.
"""

from datetime import date, timedelta

import pytest
import time_machine

from marketdata.models import MarketData
from marketdata.tests.apis.option_chain_helpers import GREEKS, by_strike, chain_of
from marketdata.tests.conftest import TRADING_DAY, store
from marketdata.tests.options.chain_data import (
    VOL,
    chain_list,
    chain_store,
    fair_price,
    option_tick,
    spot_store,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("market_clock", "fresh_demand")]


# --- nulls and their reasons ---


def test_a_contract_without_a_tick_has_nulls_that_say_no_price(user_client, listed):
    chain_store([o for symbol, o in listed.items() if symbol != "NIFTY09JAN2523600PE"])

    put = by_strike(chain_of(user_client))[23_600.0]["PE"]

    assert put["last_price"] is None and put["iv"] is None and put["open_interest"] is None
    assert set(put["reasons"]) == {
        "last_price", "change", "open_interest", "volume", "last_at", *GREEKS,
    }  # fmt: skip
    assert set(put["reasons"].values()) == {"no_price"}


def test_a_stale_price_is_shown_without_volatility_or_greeks(user_client, listed):
    chain_store(list(listed.values()))
    old = listed["NIFTY09JAN2523400CE"]
    MarketData.objects.filter(symbol=old.symbol).delete()
    store([option_tick(old, ltpc=180.0, at=TRADING_DAY - timedelta(seconds=121))])

    call = by_strike(chain_of(user_client))[23_400.0]["CE"]

    assert call["last_price"] == 180.0 and call["last_at"] == "2025-01-06T04:27:59Z"
    assert call["iv"] is None and call["delta"] is None
    assert {call["reasons"][name] for name in GREEKS} == {"stale_price"}


def test_a_price_below_intrinsic_value_gets_no_volatility(user_client, listed):
    chain_store(list(listed.values()))
    deep = listed["NIFTY09JAN2523000CE"]
    store([option_tick(deep, ltpc=400.0, at=TRADING_DAY - timedelta(seconds=1))])  # worth ~530

    call = by_strike(chain_of(user_client))[23_000.0]["CE"]

    assert call["last_price"] == 400.0 and call["iv"] is None
    assert {call["reasons"][name] for name in GREEKS} == {"below_intrinsic"}


def test_fields_the_streamed_mode_does_not_carry_are_null_with_that_reason(user_client, listed):
    spot_store()
    ltp_only = listed["NIFTY09JAN2523500CE"]
    price = fair_price(strike=23_500.0, kind="CE")
    store([option_tick(ltp_only, ltpc=price, at=TRADING_DAY - timedelta(seconds=1))])

    call = by_strike(chain_of(user_client))[23_500.0]["CE"]

    assert call["iv"] == pytest.approx(VOL, abs=1e-6)  # the forward: the spot carried
    assert call["reasons"] == {
        "change": "no_previous_close",
        "open_interest": "not_in_streamed_mode",
        "volume": "not_in_streamed_mode",
    }


def test_without_a_priced_pair_the_forward_is_the_spot_carried_at_the_rate(user_client, listed):
    chain_store([option for symbol, option in listed.items() if symbol.endswith("CE")])

    body = chain_of(user_client)

    assert body["model"]["forward_source"] == "spot_carry"
    assert body["model"]["forward_strikes"] == []
    assert by_strike(body)[23_500.0]["CE"]["iv"] == pytest.approx(VOL, abs=1e-6)


def test_without_any_tick_the_chain_still_answers_with_every_reason(user_client, listed):
    body = chain_of(user_client)

    assert body["spot"]["price"] is None
    assert body["spot"]["reasons"] == {"price": "no_price", "at": "no_price"}
    assert body["atm_strike"] == 23_500.0  # the middle listed strike
    assert body["model"]["forward"] is None
    assert body["model"]["reasons"] == {"forward": "no_forward", "forward_source": "no_forward"}
    assert body["model"]["as_of"] == "2025-01-06T04:30:00Z"  # now
    assert by_strike(body)[23_500.0]["PE"]["reasons"]["iv"] == "no_price"


def test_a_strike_listed_on_one_side_only_says_the_other_is_not_listed(user_client):
    chain_list(strikes=[23_450.0, 23_550.0])
    chain_list(strikes=[23_500.0], kinds=("CE",))
    spot_store()

    row = by_strike(chain_of(user_client))[23_500.0]

    assert row["PE"] is None and row["reasons"] == {"PE": "not_listed"}


def test_on_the_expiry_day_greeks_stop_a_minute_before_the_close(clock_client, listed):
    expiry_day = TRADING_DAY.replace(day=9)
    near = [option for option in listed.values() if option.strike == 23_500]
    values = {}
    for clock in ("14:00:00", "15:29:30"):
        hour, minute, second = map(int, clock.split(":"))
        moment = expiry_day.replace(hour=hour, minute=minute, second=second)
        with time_machine.travel(moment, tick=False):
            MarketData.objects.all().delete()
            chain_store(near, at=moment, spot_at=moment)  # the far ones are worth 0 by now
            values[clock] = by_strike(chain_of(clock_client))[23_500.0]["CE"]

    assert values["14:00:00"]["iv"] is not None and values["14:00:00"]["gamma"] > 0
    assert values["15:29:30"]["last_price"] is not None and values["15:29:30"]["iv"] is None
    assert values["15:29:30"]["reasons"] == dict.fromkeys(GREEKS, "expiry_too_close")


def test_an_expired_expiry_asked_for_shows_its_last_prices_without_greeks(clock_client, listed):
    chain_store(list(listed.values()))

    with time_machine.travel(TRADING_DAY.replace(day=9, hour=16), tick=False):
        body = chain_of(clock_client, expiry="2025-01-09")

    call = by_strike(body)[23_500.0]["CE"]
    assert call["last_price"] is not None
    assert call["reasons"] == dict.fromkeys(GREEKS, "expired")


def test_after_the_close_the_chain_is_valued_at_the_last_spot_tick(clock_client, listed):
    chain_store(list(listed.values()))

    with time_machine.travel(TRADING_DAY.replace(hour=20), tick=False):
        body = chain_of(clock_client)

    assert body["model"]["as_of"] == "2025-01-06T04:30:00Z"
    assert by_strike(body)[23_500.0]["CE"]["iv"] == pytest.approx(VOL, abs=1e-6)


def test_a_bse_index_chain_reads_its_bfo_options(user_client):
    sensex = chain_list(
        underlying="SENSEX", expiry=date(2025, 1, 7), strikes=[77_000.0, 77_100.0], exchange="BFO"
    )

    body = chain_of(user_client, "SENSEX")

    assert body["expiry"] == "2025-01-07"
    assert [row["CE"]["symbol"] for row in body["strikes"]] == [
        option.symbol for option in sensex if option.symbol.endswith("CE")
    ]
