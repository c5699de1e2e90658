"""Valuing a chain's prices (marketdata/options/valuation.py): the time to expiry, the
forward, and why an option gets no implied volatility."""

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from marketdata.market_calendar import option_expires_at
from marketdata.options.greeks import black76_price
from marketdata.options.valuation import (
    EXPIRED,
    EXPIRY_TOO_CLOSE,
    NO_FORWARD,
    NO_PRICE,
    STALE_PRICE,
    Forward,
    Price,
    forward_find,
    option_value,
    years_between,
)

EXPIRES_AT = option_expires_at(date(2025, 1, 9))
AS_OF = datetime(2025, 1, 6, 4, 30, tzinfo=UTC)  # 10:00 IST
YEARS = years_between(AS_OF, EXPIRES_AT)
RATE = 0.065
FORWARD = 23_540.0


def test_options_expire_at_1530_ist_and_time_runs_in_years_of_365_days():
    expires_at = option_expires_at(date(2025, 1, 9))
    years = years_between(AS_OF, expires_at)

    assert expires_at.astimezone(UTC) == datetime(2025, 1, 9, 10, 0, tzinfo=UTC)
    assert years_between(AS_OF, AS_OF + timedelta(days=365)) == 1.0
    assert years == pytest.approx((3 * 24 + 5.5) / (365 * 24))


def priced_pair(strike: float, forward: float = FORWARD) -> tuple[float, float, float]:
    call, put = (
        black76_price(
            is_call=kind, forward=forward, strike=strike, years=YEARS, rate=RATE, vol=0.15
        )
        for kind in (True, False)
    )
    return strike, call, put


def test_the_forward_is_the_median_of_parity_at_the_three_strikes_nearest_the_spot():
    pairs = [priced_pair(k) for k in (23_400.0, 23_500.0, 23_600.0)]
    pairs.append(priced_pair(23_550.0, forward=FORWARD + 30))  # one pair off by 30
    pairs.append(priced_pair(22_000.0, forward=FORWARD - 500))  # far from the money

    forward = forward_find(pairs=pairs, spot=23_520.0, years=YEARS, rate=RATE)

    assert forward.source == "put_call_parity"
    assert forward.strikes == (23_500.0, 23_550.0, 23_600.0)
    assert forward.value == pytest.approx(FORWARD, abs=1e-6)


def test_without_a_priced_pair_the_forward_is_the_spot_carried_and_without_a_spot_none():
    carried = forward_find(pairs=[], spot=23_500.0, years=YEARS, rate=RATE)
    nothing = forward_find(pairs=[], spot=None, years=YEARS, rate=RATE)

    assert carried == Forward(23_500.0 * math.exp(RATE * YEARS), "spot_carry")
    assert nothing == Forward(None, None)


def test_without_a_spot_parity_is_read_at_the_middle_pairs():
    pairs = [priced_pair(k) for k in (23_400.0, 23_450.0, 23_500.0, 23_550.0, 23_600.0)]

    forward = forward_find(pairs=pairs, spot=None, years=YEARS, rate=RATE)

    assert forward.strikes == (23_450.0, 23_500.0, 23_550.0)


def value(**changes: object):
    call = black76_price(
        is_call=True, forward=FORWARD, strike=23_500.0, years=YEARS, rate=RATE, vol=0.15
    )
    arguments = {
        "is_call": True,
        "strike": 23_500.0,
        "price": Price(call, AS_OF - timedelta(seconds=5)),
        "forward": Forward(FORWARD, "put_call_parity"),
        "as_of": AS_OF,
        "expires_at": EXPIRES_AT,
        "now": AS_OF,
        "rate": RATE,
        "stale_after": timedelta(seconds=120),
        **changes,
    }
    return option_value(**arguments)


def test_a_fresh_price_gets_its_volatility_and_greeks():
    valued = value()

    assert valued.reason is None and valued.iv == pytest.approx(0.15)
    assert valued.greeks is not None and 0.5 < valued.greeks.delta < 0.6


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"price": None}, NO_PRICE),
        ({"now": EXPIRES_AT}, EXPIRED),
        (
            {
                "as_of": EXPIRES_AT - timedelta(seconds=59),
                "now": EXPIRES_AT - timedelta(seconds=59),
            },
            EXPIRY_TOO_CLOSE,
        ),
        ({"price": Price(100.0, AS_OF - timedelta(seconds=121))}, STALE_PRICE),
        ({"forward": Forward(None, None)}, NO_FORWARD),
    ],
)
def test_why_an_option_has_no_volatility(changes, reason):
    valued = value(**changes)

    assert (valued.iv, valued.greeks, valued.reason) == (None, None, reason)


def test_a_price_exactly_at_the_staleness_limit_is_still_fresh():
    call = value(price=Price(300.0, AS_OF - timedelta(seconds=120)))

    assert call.reason is None and call.iv is not None
