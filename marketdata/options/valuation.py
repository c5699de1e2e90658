"""Valuing an option chain's prices: the forward, the time to expiry, and each option's
implied volatility and Greeks, or the reason there are none.

Plain functions of numbers and times (no database): `marketdata.options.chain` reads the
contracts and ticks and calls them. docs/options.md explains the choices.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from marketdata.options.greeks import (
    NOT_SOLVABLE,
    Greeks,
    ImpliedVolatilityError,
    black76_greeks,
    black76_implied_volatility,
    parity_forward,
)

SECONDS_PER_YEAR = 365.0 * 86_400  # ACT/365: calendar time, the year of 365 days
# Under a minute from the close, gamma and theta of the strikes near the money explode and
# one tick moves the implied volatility by tens of points: none is given (no floor on T,
# which would give numbers that belong to no market).
MIN_SECONDS_TO_EXPIRY = 60.0
PARITY_PAIRS = 3  # the forward is the median of parity at up to this many strikes nearest the spot

# Why a value is null (docs/options.md lists them). The solver's own reasons come from
# greeks.py: below_intrinsic, above_maximum, no_time_value, not_solvable.
NO_PRICE = "no_price"  # no stored tick for the contract
STALE_PRICE = "stale_price"  # its last tick is OPTION_PRICE_STALE_SECONDS older than the spot's
NO_FORWARD = "no_forward"  # neither a spot price nor a priced call and put at one strike
EXPIRED = "expired"  # past 15:30 IST of the expiry day
EXPIRY_TOO_CLOSE = "expiry_too_close"  # under MIN_SECONDS_TO_EXPIRY before the close
NOT_IN_MODE = "not_in_streamed_mode"  # LTP frames carry no volume, only SNAP_QUOTE has OI
NO_PREVIOUS_CLOSE = "no_previous_close"  # no change without the previous close
NOT_LISTED = "not_listed"  # the master lists no call (or put) at this strike


def years_between(start: datetime, end: datetime) -> float:
    """Calendar time from `start` to `end` in years of 365 days (negative if end is before)."""
    return (end - start).total_seconds() / SECONDS_PER_YEAR


@dataclass(frozen=True, slots=True)
class Price:
    """An option's last traded price and when it traded."""

    value: float
    at: datetime


@dataclass(frozen=True, slots=True)
class Forward:
    value: float | None
    source: str | None  # "put_call_parity", "spot_carry", or None without either
    strikes: tuple[float, ...] = ()  # the strikes parity was read at


def forward_find(
    *,
    pairs: Sequence[tuple[float, float, float]],
    spot: float | None,
    years: float,
    rate: float,
) -> Forward:
    """The forward of the expiry: the median of put-call parity at the `PARITY_PAIRS` strikes
    nearest the spot among `pairs` (strike, call, put: fresh prices only), else the spot
    carried at `rate`, else none."""
    if pairs:
        centre = spot if spot is not None else statistics.median(k for k, _, _ in pairs)
        nearest = sorted(pairs, key=lambda pair: (abs(pair[0] - centre), pair[0]))[:PARITY_PAIRS]
        value = statistics.median(
            parity_forward(strike=k, call=c, put=p, years=years, rate=rate) for k, c, p in nearest
        )
        if value > 0:
            return Forward(value, "put_call_parity", tuple(sorted(k for k, _, _ in nearest)))
    if spot is not None:
        return Forward(spot * math.exp(rate * years), "spot_carry")
    return Forward(None, None)


@dataclass(frozen=True, slots=True)
class Valuation:
    iv: float | None
    greeks: Greeks | None
    reason: str | None  # why iv and the Greeks are null


def _valued(
    is_call: bool, price: float, forward: float, strike: float, years: float, rate: float
) -> Valuation:
    case = {"forward": forward, "strike": strike, "years": years, "rate": rate}
    try:
        vol = black76_implied_volatility(is_call=is_call, price=price, **case)
        greeks = black76_greeks(is_call=is_call, vol=vol, **case)
    except ImpliedVolatilityError as refusal:
        return Valuation(None, None, refusal.reason)
    except (ArithmeticError, ValueError):  # inputs no market gives (a zero strike...): no 500
        return Valuation(None, None, NOT_SOLVABLE)
    if not all(map(math.isfinite, (greeks.delta, greeks.gamma, greeks.theta, greeks.vega))):
        return Valuation(None, None, NOT_SOLVABLE)
    return Valuation(vol, greeks, None)


def option_value(
    *,
    is_call: bool,
    strike: float,
    price: Price | None,
    forward: Forward,
    as_of: datetime,
    expires_at: datetime,
    now: datetime,
    rate: float,
    stale_after: timedelta,
) -> Valuation:
    """Implied volatility and Greeks of one option at `as_of` (the spot's tick), or why not."""
    if price is None:
        return Valuation(None, None, NO_PRICE)
    if now >= expires_at:
        return Valuation(None, None, EXPIRED)
    if (expires_at - as_of).total_seconds() < MIN_SECONDS_TO_EXPIRY:
        return Valuation(None, None, EXPIRY_TOO_CLOSE)
    if as_of - price.at > stale_after:
        return Valuation(None, None, STALE_PRICE)
    if forward.value is None:
        return Valuation(None, None, NO_FORWARD)
    years = years_between(as_of, expires_at)
    return _valued(is_call, price.value, forward.value, strike, years, rate)
