"""The option chain's wire shape (JSON-ready values), without DRF's per-field cost: a chain
has about a thousand values. `marketdata.serializers.OptionChainSerializer` documents it."""

from typing import Any

from marketdata.options.chain import ChainOption, LiveRequest, OptionChain
from marketdata.options.valuation import (
    MIN_SECONDS_TO_EXPIRY,
    NO_FORWARD,
    NO_PRICE,
    NOT_LISTED,
)
from trading_signals.wire import optional_utc_iso, utc_iso

MODEL = "black76"
DAY_COUNT = "ACT/365 to 15:30 IST of the expiry day"


def _option_render(option: ChainOption | None) -> dict[str, Any] | None:
    if option is None:
        return None
    value = option.valuation
    greeks = value.greeks
    return {
        "symbol": option.symbol,
        "token": option.token,
        "last_price": option.last_price,
        "change": option.change,
        "open_interest": option.open_interest,
        "volume": option.volume,
        "last_at": optional_utc_iso(option.last_at),
        "iv": value.iv,
        "delta": None if greeks is None else greeks.delta,
        "gamma": None if greeks is None else greeks.gamma,
        "theta": None if greeks is None else greeks.theta,
        "vega": None if greeks is None else greeks.vega,
        "reasons": option.reasons,
    }


def _side_reasons(call: dict[str, Any] | None, put: dict[str, Any] | None) -> dict[str, str]:
    sides = {"CE": call, "PE": put}
    return {name: NOT_LISTED for name, side in sides.items() if side is None}


def _model_reasons(chain: OptionChain) -> dict[str, str]:
    if chain.model.forward.value is not None:
        return {}
    return dict.fromkeys(("forward", "forward_source"), NO_FORWARD)


def chain_render(chain: OptionChain, live: LiveRequest) -> dict[str, Any]:
    model = chain.model
    strikes = []
    for row in chain.strikes:
        call, put = _option_render(row.call), _option_render(row.put)
        strikes.append(
            {"strike": row.strike, "CE": call, "PE": put, "reasons": _side_reasons(call, put)}
        )
    return {
        "underlying": chain.underlying,
        "expiry": chain.expiry.isoformat(),
        "spot": {
            "symbol": chain.spot.symbol,
            "price": chain.spot.price,
            "at": optional_utc_iso(chain.spot.at),
            "reasons": {}
            if chain.spot.price is not None
            else dict.fromkeys(("price", "at"), NO_PRICE),
        },
        "atm_strike": chain.atm_strike,
        "model": {
            "name": MODEL,
            "rate": model.rate,
            "forward": model.forward.value,
            "forward_source": model.forward.source,
            "forward_strikes": list(model.forward.strikes),
            "time_to_expiry": model.years,
            "day_count": DAY_COUNT,
            "as_of": utc_iso(model.as_of),
            "expires_at": utc_iso(model.expires_at),
            "stale_after_seconds": model.stale_after_seconds,
            "min_seconds_to_expiry": MIN_SECONDS_TO_EXPIRY,
            "reasons": _model_reasons(chain),
        },
        "live": {
            "status": live.status,
            "symbols": live.symbols,
            "grace_seconds": live.grace_seconds,
            "detail": live.detail,
        },
        "strikes": strikes,
    }
