"""The option chain of an index: its expiries, and for one expiry the strikes around the money
with each call's and put's last price and its implied volatility and Greeks.

Reads the instrument master (`Instrument`) and the newest stored ticks (two `latest_ticks`
queries: the spot, then the window's contracts), values them with `valuation`, and asks the
feed to stream the window's contracts (`option_chain_stream`), so the next request is live.
"""

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import redis
from django.conf import settings

from marketdata import demand
from marketdata.market_calendar import INDICES, IST, option_expires_at
from marketdata.models import Instrument, MarketData
from marketdata.options import valuation
from marketdata.options.valuation import Forward, Price, Valuation
from marketdata.selectors import latest_ticks
from trading_signals.errors import field_error

logger = logging.getLogger(__name__)

UNDERLYINGS = tuple(symbol for _token, symbol, _name, _exchange, _kind in INDICES)
INDEX_OPTION = "OPTIDX"  # the scrip master's instrument type of index options
DEFAULT_STRIKES = 10  # each side of the ATM strike
MAX_STRIKES = 25  # each side: a request streams at most 2 x 51 contracts for the grace
# Open interest comes only in SNAP_QUOTE frames: a chain asks for the mode that carries it.
CHAIN_MODE = "snap_quote"


class NoOptionsListedError(LookupError):
    """The master lists no unexpired option of the underlying (not synced yet?)."""


@dataclass(frozen=True, slots=True)
class ChainOption:
    symbol: str
    token: str
    last_price: float | None
    change: float | None
    open_interest: int | None
    volume: int | None
    last_at: datetime | None
    valuation: Valuation
    reasons: dict[str, str]  # every null field -> why


@dataclass(frozen=True, slots=True)
class ChainStrike:
    strike: float
    call: ChainOption | None  # None: the master lists no such contract
    put: ChainOption | None


@dataclass(frozen=True, slots=True)
class Spot:
    symbol: str
    price: float | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class ChainModel:
    rate: float
    forward: Forward
    years: float  # from `as_of` to `expires_at`, ACT/365
    as_of: datetime  # the valuation moment: the spot's tick (now without one)
    expires_at: datetime
    stale_after_seconds: float


@dataclass(frozen=True, slots=True)
class OptionChain:
    underlying: str
    expiry: date
    spot: Spot
    atm_strike: float
    model: ChainModel
    strikes: list[ChainStrike]

    def symbols(self) -> list[str]:
        return [
            option.symbol
            for row in self.strikes
            for option in (row.call, row.put)
            if option is not None
        ]


@dataclass(frozen=True, slots=True)
class LiveRequest:
    """What became of the chain's request to stream its contracts."""

    status: str  # "requested", "subscription_limit" or "unavailable"
    symbols: int
    grace_seconds: float
    detail: str


# --- Expiries ------------------------------------------------------------------------------


def _index_options_all() -> Any:
    return Instrument.objects.filter(instrument_type=INDEX_OPTION)


def _index_options(underlying: str) -> Any:
    return _index_options_all().filter(name=underlying)


def option_expiries(*, underlying: str, now: datetime) -> list[date]:
    """The expiries of the underlying's index options in the master that have not expired
    (15:30 IST of the expiry day), nearest first."""
    today = now.astimezone(IST).date()
    days = (
        _index_options(underlying)
        .filter(expiry__gte=today)
        .order_by("expiry")
        .values_list("expiry", flat=True)
        .distinct()
    )
    return [day for day in days if now < option_expires_at(day)]


def _expiry_chosen(underlying: str, expiry: date | None, now: datetime) -> date:
    if expiry is None:
        expiries = option_expiries(underlying=underlying, now=now)
        if not expiries:
            raise NoOptionsListedError(
                f"The instrument master lists no unexpired {underlying} option."
            )
        return expiries[0]
    if not _index_options(underlying).filter(expiry=expiry).exists():
        raise field_error(
            "expiry",
            f"No {underlying} option expires on {expiry.isoformat()}; "
            f"option-chain/{underlying}/expiries lists the expiries.",
        )
    return expiry


# --- The chain ------------------------------------------------------------------------------


Sides = dict[bool, tuple[str, str]]  # is_call -> (symbol, token) of a strike's contracts


def _contracts(underlying: str, expiry: date) -> dict[float, Sides]:
    """strike -> its call and put of the expiry, as the master lists them."""
    by_strike: dict[float, Sides] = {}
    # The master gives contracts with no strike a negative one (-1 paise): none here.
    listed = _index_options(underlying).filter(expiry=expiry, strike__gt=0)
    for symbol, token, strike in listed.values_list("symbol", "token", "strike"):
        if symbol.endswith(("CE", "PE")):
            by_strike.setdefault(strike, {})[symbol.endswith("CE")] = (symbol, token)
    return by_strike


def _spot(underlying: str) -> Spot:
    ticks = latest_ticks(symbols=[underlying])
    if not ticks:
        return Spot(underlying, None, None)
    return Spot(underlying, ticks[0].ltpc, ticks[0].received_at)


def _window(strikes: list[float], spot: Spot, width: int) -> tuple[float, list[float]]:
    """The strike nearest the spot (the lower on a tie; without a spot, the middle one) and
    `width` strikes each side of it."""
    centre = spot.price if spot.price is not None else strikes[len(strikes) // 2]
    atm = min(range(len(strikes)), key=lambda i: (abs(strikes[i] - centre), strikes[i]))
    return strikes[atm], strikes[max(0, atm - width) : atm + width + 1]


def _price(tick: MarketData | None) -> Price | None:
    return None if tick is None else Price(tick.ltpc, tick.received_at)


def _fresh_pairs(
    window: dict[float, Sides],
    ticks: dict[str, MarketData],
    as_of: datetime,
    stale_after: timedelta,
) -> list[tuple[float, float, float]]:
    """(strike, call, put) of the strikes whose call and put both have a fresh price."""
    pairs = []
    for strike, sides in window.items():
        call, put = (
            _price(ticks.get(sides[kind][0])) if kind in sides else None for kind in (True, False)
        )
        if call and put and as_of - min(call.at, put.at) <= stale_after:
            pairs.append((strike, call.value, put.value))
    return pairs


def _model(
    window: dict[float, Sides],
    ticks: dict[str, MarketData],
    spot: Spot,
    expiry: date,
    now: datetime,
) -> ChainModel:
    """The valuation's inputs: the moment (the spot's tick), the time to expiry, the forward."""
    rate = float(settings.OPTION_RISK_FREE_RATE)
    stale_after = float(settings.OPTION_PRICE_STALE_SECONDS)
    as_of = min(spot.at, now) if spot.at is not None else now
    expires_at = option_expires_at(expiry)
    years = max(0.0, valuation.years_between(as_of, expires_at))
    pairs = _fresh_pairs(window, ticks, as_of, timedelta(seconds=stale_after))
    forward = valuation.forward_find(pairs=pairs, spot=spot.price, years=years, rate=rate)
    return ChainModel(rate, forward, years, as_of, expires_at, stale_after)


def _open_interest(tick: MarketData) -> int | None:
    value = (tick.raw_data or {}).get("open_interest")
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _market_fields(tick: MarketData | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The contract's last price, change, OI, volume and time, and the reason of each null."""
    if tick is None:
        names = ("last_price", "change", "open_interest", "volume", "last_at")
        return dict.fromkeys(names), dict.fromkeys(names, valuation.NO_PRICE)
    fields = {
        "last_price": tick.ltpc,
        "change": tick.ch,
        "open_interest": _open_interest(tick),
        "volume": tick.volume,
        "last_at": tick.received_at,
    }
    reasons = {}
    if tick.ch is None:
        reasons["change"] = valuation.NO_PREVIOUS_CLOSE
    for name in ("open_interest", "volume"):
        if fields[name] is None:
            reasons[name] = valuation.NOT_IN_MODE
    return fields, reasons


def _chain_option(
    contract: tuple[str, str] | None,
    *,
    is_call: bool,
    strike: float,
    ticks: dict[str, MarketData],
    model: ChainModel,
    now: datetime,
) -> ChainOption | None:
    if contract is None:
        return None
    symbol, token = contract
    tick = ticks.get(symbol)
    value = valuation.option_value(
        is_call=is_call, strike=strike, price=_price(tick), forward=model.forward,
        as_of=model.as_of, expires_at=model.expires_at, now=now, rate=model.rate,
        stale_after=timedelta(seconds=model.stale_after_seconds),
    )  # fmt: skip
    fields, reasons = _market_fields(tick)
    if value.reason is not None:
        reasons.update(dict.fromkeys(("iv", "delta", "gamma", "theta", "vega"), value.reason))
    return ChainOption(symbol=symbol, token=token, valuation=value, reasons=reasons, **fields)


@dataclass(frozen=True, slots=True)
class _Priced:
    """A window of an expiry's strikes around the spot, their newest ticks and the model."""

    spot: Spot
    atm: float
    window: dict[float, Sides]
    ticks: dict[str, MarketData]
    model: ChainModel

    def option(
        self, contract: tuple[str, str] | None, *, is_call: bool, strike: float, now: datetime
    ) -> ChainOption | None:
        return _chain_option(
            contract, is_call=is_call, strike=strike, ticks=self.ticks, model=self.model, now=now
        )


def _priced(
    underlying: str,
    expiry: date,
    contracts: dict[float, Sides],
    *,
    width: int,
    now: datetime,
    also: Iterable[str] = (),
) -> _Priced:
    """The `width` strikes each side of the spot, priced: their ticks (and those of `also`)
    in one query, and the valuation's inputs read from them."""
    spot = _spot(underlying)
    atm, shown = _window(sorted(contracts), spot, width)
    window = {strike: contracts[strike] for strike in shown}
    wanted = [symbol for sides in window.values() for symbol, _ in sides.values()]
    ticks = {tick.symbol: tick for tick in latest_ticks(symbols=[*wanted, *also])}
    return _Priced(spot, atm, window, ticks, _model(window, ticks, spot, expiry, now))


def option_chain(
    *, underlying: str, expiry: date | None = None, strikes: int = DEFAULT_STRIKES, now: datetime
) -> OptionChain:
    """The chain of `underlying` (one of UNDERLYINGS) for `expiry` (default: the nearest
    unexpired), `strikes` strikes each side of the strike nearest the spot.

    Raises NoOptionsListedError when the master lists no unexpired option and no expiry is
    given, and ApplicationError (a 400 naming `expiry`) for an expiry the master does not list.
    """
    expiry = _expiry_chosen(underlying, expiry, now)
    contracts = _contracts(underlying, expiry)
    if not contracts:
        raise NoOptionsListedError(f"The master lists no {underlying} call or put of {expiry}.")
    priced = _priced(underlying, expiry, contracts, width=strikes, now=now)
    rows = [
        ChainStrike(
            strike,
            *(
                priced.option(sides.get(is_call), is_call=is_call, strike=strike, now=now)
                for is_call in (True, False)
            ),
        )
        for strike, sides in priced.window.items()
    ]
    return OptionChain(underlying, expiry, priced.spot, priced.atm, priced.model, rows)


def option_valued(*, symbol: str, now: datetime) -> ChainOption | None:
    """One index option valued as its chain values it (the same forward, from the strikes
    around the spot); None when the master lists no index option `symbol`."""
    listed = _index_options_all().filter(symbol=symbol, strike__gt=0)
    contract = listed.values_list("name", "expiry", "token", "strike").first()
    if contract is None or not symbol.endswith(("CE", "PE")):
        return None
    underlying, expiry, token, strike = contract
    contracts = _contracts(underlying, expiry)
    priced = _priced(underlying, expiry, contracts, width=DEFAULT_STRIKES, now=now, also=[symbol])
    return priced.option((symbol, token), is_call=symbol.endswith("CE"), strike=strike, now=now)


# --- Streaming the chain's contracts ----------------------------------------------------------


def option_chain_stream(*, symbols: Iterable[str]) -> LiveRequest:
    """Ask the feed to stream `symbols` (a chain's contracts) for LIVE_DEMAND_GRACE_SECONDS in
    the mode that carries open interest. Never raises: a refusal (past the feed's capacity,
    which /health's `feed_demand` line then shows too) or an unreachable Redis is reported in
    the result, and the chain is served from the stored ticks all the same."""
    names = list(symbols)
    grace = float(settings.LIVE_DEMAND_GRACE_SECONDS)
    try:
        demand.demand_touch(symbols=names, mode=CHAIN_MODE)
    except demand.DemandFullError as refusal:
        return LiveRequest("subscription_limit", len(names), grace, str(refusal))
    except (redis.RedisError, OSError) as exc:
        logger.warning("An option chain's contracts could not be requested from the feed: %s", exc)
        return LiveRequest("unavailable", len(names), grace, "The demand could not be recorded.")
    detail = f"Streamed for {grace:g} s after this request, in {CHAIN_MODE} mode."
    return LiveRequest("requested", len(names), grace, detail)
