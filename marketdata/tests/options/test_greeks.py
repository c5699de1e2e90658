"""Black-76 prices, implied volatility and Greeks (marketdata/options/greeks.py) against
vollib's own reference values, Hull's worked examples, and a property: pricing at the solved
volatility gives back the price."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata.options.greeks import (
    ABOVE_MAXIMUM,
    BELOW_INTRINSIC,
    NO_TIME_VALUE,
    ImpliedVolatilityError,
    black76_greeks,
    black76_implied_volatility,
    black76_price,
    intrinsic_value,
    parity_forward,
)

# vollib.black's doctests (vollib 1.0.11, black/greeks/analytical.py and
# black/implied_volatility.py), which its tests check to 1e-6.
VOLLIB_CASE = {"forward": 49.0, "strike": 50.0, "years": 0.3846, "rate": 0.05, "vol": 0.2}
VOLLIB_CALL = {"delta": 0.45107017482201828, "gamma": 0.0640646705882,
               "theta": -0.00816236877462, "vega": 0.118317785624}  # fmt: skip
VOLLIB_PUT_THETA = -0.00802799155312
VOLLIB_IV_CASE = {"forward": 100.0, "strike": 100.0, "years": 0.5, "rate": 0.02}
VOLLIB_IV_PRICE = 5.5811067246


def test_greeks_match_vollibs_reference_values():
    call = black76_greeks(is_call=True, **VOLLIB_CASE)
    put = black76_greeks(is_call=False, **VOLLIB_CASE)

    for name, expected in VOLLIB_CALL.items():
        assert getattr(call, name) == pytest.approx(expected, abs=1e-9), name
    assert put.theta == pytest.approx(VOLLIB_PUT_THETA, abs=1e-9)
    assert put.gamma == call.gamma and put.vega == call.vega
    # A put's delta on the forward is the call's less the discount factor (parity).
    discount = math.exp(-VOLLIB_CASE["rate"] * VOLLIB_CASE["years"])
    assert put.delta == pytest.approx(call.delta - discount, abs=1e-12)


def test_price_and_implied_volatility_match_vollibs_reference_values():
    price = black76_price(is_call=True, vol=0.2, **VOLLIB_IV_CASE)
    vol = black76_implied_volatility(is_call=True, price=VOLLIB_IV_PRICE, **VOLLIB_IV_CASE)

    assert price == pytest.approx(VOLLIB_IV_PRICE, abs=1e-9)
    assert vol == pytest.approx(0.2, abs=1e-9)


# Hull, Options, Futures, and Other Derivatives: the Black-Scholes-Merton example (S = 42,
# K = 40, r = 10%, sigma = 20%, T = 0.5: d1 = 0.7693, d2 = 0.6278, c = 4.76, p = 0.81),
# valued by Black-76 on the forward F = S e^{rT}, which gives the same prices.
HULL_BSM = {"strike": 40.0, "rate": 0.10, "years": 0.5}
HULL_CARRY = math.exp(0.10 * 0.5)


def _n(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_hulls_worked_black_scholes_example():
    case = {"forward": 42.0 * HULL_CARRY, **HULL_BSM}
    call = black76_price(is_call=True, vol=0.2, **case)
    put = black76_price(is_call=False, vol=0.2, **case)
    greeks = black76_greeks(is_call=True, vol=0.2, **case)

    assert (round(call, 2), round(put, 2)) == (4.76, 0.81)
    # The spot's delta is N(d1), with Hull's d1 = 0.7693.
    assert greeks.delta * HULL_CARRY == pytest.approx(_n(0.7693), abs=1e-4)
    # Hull's formula, written out here with d1 and d2 unrounded.
    d1 = (math.log(42 / 40) + (0.10 + 0.02) * 0.5) / (0.2 * math.sqrt(0.5))
    d2 = d1 - 0.2 * math.sqrt(0.5)
    assert (round(d1, 4), round(d2, 4)) == (0.7693, 0.6278)
    assert call == pytest.approx(42 * _n(d1) - 40 * math.exp(-0.05) * _n(d2), abs=1e-10)
    assert put == pytest.approx(40 * math.exp(-0.05) * _n(-d2) - 42 * _n(-d1), abs=1e-10)
    assert black76_implied_volatility(is_call=True, price=call, **case) == pytest.approx(0.2)


def test_hulls_worked_futures_option_example():
    """Hull's European put futures option on crude oil: F0 = K = 20, r = 9%, T = 4 months,
    sigma = 25%: d1 = 0.07216, p = e^{-0.03} (20 N(0.07216) - 20 N(-0.07216)) = 1.12."""
    case = {"forward": 20.0, "strike": 20.0, "years": 4 / 12, "rate": 0.09}

    put = black76_price(is_call=False, vol=0.25, **case)
    greeks = black76_greeks(is_call=False, vol=0.25, **case)

    assert round(put, 2) == 1.12
    assert greeks.delta == pytest.approx(-math.exp(-0.03) * _n(-0.07216), abs=1e-4)
    d1 = 0.25 * math.sqrt(4 / 12) / 2  # ln(F0/K) = 0
    assert math.floor(d1 * 1e5) / 1e5 == 0.07216
    assert put == pytest.approx(math.exp(-0.03) * 20 * (_n(d1) - _n(-d1)), abs=1e-10)
    assert black76_implied_volatility(is_call=False, price=put, **case) == pytest.approx(0.25)


def test_hulls_greek_letters_example_in_spot_terms():
    """Hull's call with S = 49, K = 50, r = 5%, sigma = 20%, 20 weeks (0.3846 years): delta
    0.522, gamma 0.066, vega 12.1 per unit of volatility. On the forward F = S e^{rT}, the
    spot's delta is e^{rT} times the forward's, its gamma e^{2rT} times; vega is the same."""
    carry = math.exp(0.05 * 0.3846)
    greeks = black76_greeks(
        is_call=True, forward=49 * carry, strike=50.0, years=0.3846, rate=0.05, vol=0.2
    )

    assert round(greeks.delta * carry, 3) == 0.522
    assert round(greeks.gamma * carry**2, 3) == 0.066
    assert round(greeks.vega * 100, 1) == 12.1


@pytest.mark.parametrize(
    ("is_call", "price", "reason"),
    [
        (True, 9.0, BELOW_INTRINSIC),  # a call struck 10 under the forward
        (False, 0.0, NO_TIME_VALUE),  # an out-of-the-money put at nothing
        (True, 100.0, ABOVE_MAXIMUM),  # a call worth more than the forward itself
        (False, 95.0, ABOVE_MAXIMUM),  # a put worth more than its strike
    ],
)
def test_prices_no_model_allows_have_no_implied_volatility(is_call, price, reason):
    with pytest.raises(ImpliedVolatilityError) as refused:
        black76_implied_volatility(
            is_call=is_call, price=price, forward=100.0, strike=90.0, years=0.1, rate=0.0
        )

    assert refused.value.reason == reason


def test_parity_forward_undoes_parity():
    forward, strike, years, rate = 23_540.0, 23_500.0, 0.02, 0.065
    call = black76_price(
        is_call=True, forward=forward, strike=strike, years=years, rate=rate, vol=0.15
    )
    put = black76_price(
        is_call=False, forward=forward, strike=strike, years=years, rate=rate, vol=0.15
    )

    implied = parity_forward(strike=strike, call=call, put=put, years=years, rate=rate)

    assert implied == pytest.approx(forward, abs=1e-8)


MINUTE = 1 / (365 * 24 * 60)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    is_call=st.booleans(),
    forward=st.floats(1_000, 100_000),
    log_moneyness=st.floats(-0.5, 0.5),
    years=st.floats(MINUTE, 2.0),
    vol=st.floats(0.01, 2.0),
    rate=st.floats(0.0, 0.15),
)
def test_pricing_at_the_solved_volatility_gives_back_the_price(
    is_call, forward, log_moneyness, years, vol, rate
):
    strike = forward * math.exp(log_moneyness)
    case = {"is_call": is_call, "forward": forward, "strike": strike, "years": years, "rate": rate}
    price = black76_price(vol=vol, **case)

    try:
        solved = black76_implied_volatility(price=price, **case)
    except ImpliedVolatilityError as refused:
        # Only a price with no time value left in floating point: any volatility fits it.
        assert refused.reason in {NO_TIME_VALUE, BELOW_INTRINSIC}
        assert price - intrinsic_value(**case) <= 1e-6
        return
    assert black76_price(vol=solved, **case) == pytest.approx(price, abs=1e-6)
    greeks = black76_greeks(vol=solved, **case)
    assert all(map(math.isfinite, (greeks.delta, greeks.gamma, greeks.theta, greeks.vega)))
