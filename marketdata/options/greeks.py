"""Black-76: option prices, implied volatility and analytical Greeks on a forward.

Prices and implied volatility come from py_lets_be_rational (Peter Jäckel's "Let's Be
Rational", the solver inside vollib/py_vollib): machine precision in two iterations, for any
moneyness and time to expiry. The Greeks are Black's analytical ones as vollib's
`black.greeks.analytical` writes them, so they agree with vollib's own reference values:

- delta and gamma with respect to the forward F (a call's delta is e^{-rT} N(d1));
- theta per calendar day (the year's change / 365), F held;
- vega per 1 point of volatility (the textbook vega x 0.01).

vollib itself is not a dependency: it requires pandas and scipy, and its per-option
functions go through numpy scalars (several times slower than `math`); its Black model is
these few lines over the same solver.

Every function is plain maths: no Django, no I/O. Results are finite floats; a price that
has no implied volatility raises `ImpliedVolatilityError` with a reason code.
"""

import math
from dataclasses import dataclass

from py_lets_be_rational import black as _undiscounted_black
from py_lets_be_rational import implied_volatility_from_a_transformed_rational_guess as _lbr_iv
from py_lets_be_rational.exceptions import AboveMaximumException, BelowIntrinsicException

DAYS_PER_YEAR = 365.0  # theta per calendar day, as vollib gives it
VEGA_PER_POINT = 0.01  # vega per 1% of volatility
_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# Reason codes of a price with no implied volatility.
BELOW_INTRINSIC = "below_intrinsic"  # under the discounted intrinsic value: an arbitrage
ABOVE_MAXIMUM = "above_maximum"  # a call above e^{-rT} F, a put above e^{-rT} K: an arbitrage
NO_TIME_VALUE = "no_time_value"  # at intrinsic: any volatility down to 0 fits
NOT_SOLVABLE = "not_solvable"  # the solver gave no finite volatility


class ImpliedVolatilityError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Greeks:
    delta: float
    gamma: float
    theta: float  # per calendar day
    vega: float  # per 1% of volatility


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT_2)


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def intrinsic_value(
    *, is_call: bool, forward: float, strike: float, years: float, rate: float
) -> float:
    """The discounted intrinsic value against the forward: e^{-rT} max(F - K, 0) for a call."""
    payoff = forward - strike if is_call else strike - forward
    return math.exp(-rate * years) * max(payoff, 0.0)


def black76_price(
    *, is_call: bool, forward: float, strike: float, years: float, rate: float, vol: float
) -> float:
    """The discounted Black-76 price (`years` and `vol` positive)."""
    undiscounted: float = _undiscounted_black(forward, strike, vol, years, 1.0 if is_call else -1.0)
    return math.exp(-rate * years) * undiscounted


def black76_implied_volatility(
    *, is_call: bool, price: float, forward: float, strike: float, years: float, rate: float
) -> float:
    """The volatility at which `black76_price` gives `price` (a discounted premium).

    Raises ImpliedVolatilityError: below the intrinsic value or above the maximum (prices no
    model allows), at the intrinsic value exactly, or when the solver finds no finite root.
    """
    undiscounted = price * math.exp(rate * years)
    try:
        vol: float = _lbr_iv(undiscounted, forward, strike, years, 1.0 if is_call else -1.0)
    except BelowIntrinsicException:
        raise ImpliedVolatilityError(BELOW_INTRINSIC) from None
    except AboveMaximumException:
        raise ImpliedVolatilityError(ABOVE_MAXIMUM) from None
    if vol == 0.0:
        raise ImpliedVolatilityError(NO_TIME_VALUE)
    if not 0.0 < vol < math.inf:  # the solver's +-FLOAT_MAX signals, or NaN
        raise ImpliedVolatilityError(NOT_SOLVABLE)
    return vol


def black76_greeks(
    *, is_call: bool, forward: float, strike: float, years: float, rate: float, vol: float
) -> Greeks:
    """Black's analytical Greeks (vollib's conventions, see the module's docstring)."""
    root_t = math.sqrt(years)
    spread = vol * root_t
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    discount = math.exp(-rate * years)
    density = _norm_pdf(d1)
    decay = forward * discount * density * vol / (2.0 * root_t)
    if is_call:
        n_d1, n_d2 = _norm_cdf(d1), _norm_cdf(d2)
        delta = discount * n_d1
        theta = -decay + rate * forward * discount * n_d1 - rate * strike * discount * n_d2
    else:
        n_d1, n_d2 = _norm_cdf(-d1), _norm_cdf(-d2)
        delta = -discount * n_d1
        theta = -decay - rate * forward * discount * n_d1 + rate * strike * discount * n_d2
    return Greeks(
        delta=delta,
        gamma=discount * density / (forward * spread),
        theta=theta / DAYS_PER_YEAR,
        vega=forward * discount * density * root_t * VEGA_PER_POINT,
    )


def parity_forward(*, strike: float, call: float, put: float, years: float, rate: float) -> float:
    """The forward that put-call parity implies: F = K + e^{rT} (C - P)."""
    return strike + math.exp(rate * years) * (call - put)
