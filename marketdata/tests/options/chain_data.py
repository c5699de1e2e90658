"""An index's options in the master and their ticks, priced by Black-76 at a known volatility,
for the option chain's tests."""

import math
from datetime import date, datetime, timedelta

from marketdata.market_calendar import option_expires_at
from marketdata.models import Instrument
from marketdata.options.greeks import black76_price
from marketdata.options.valuation import years_between
from marketdata.tests.conftest import TRADING_DAY, store
from marketdata.ticks import Tick

EXPIRY = date(2025, 1, 9)  # the Thursday after TRADING_DAY
LATER_EXPIRY = date(2025, 1, 30)
SPOT = 23_512.35
VOL = 0.14
RATE = 0.065  # the default OPTION_RISK_FREE_RATE
STRIKES = [22_500.0 + 50 * n for n in range(41)]  # 22,500 to 24,500
NIFTY_TOKEN = "99926000"


def option_symbol(underlying: str, expiry: date, strike: float, kind: str) -> str:
    """Angel One's way: NIFTY09JAN2523500CE."""
    return f"{underlying}{expiry.strftime('%d%b%y').upper()}{strike:.0f}{kind}"


def chain_list(
    *,
    underlying: str = "NIFTY",
    expiry: date = EXPIRY,
    strikes: list[float] = STRIKES,
    kinds: tuple[str, ...] = ("CE", "PE"),
    exchange: str = "NFO",
) -> list[Instrument]:
    """The calls and puts of `expiry`, as sync_instruments loads them (tokens from 50,000)."""
    first = 50_000 + Instrument.objects.count() * 10
    return Instrument.objects.bulk_create(
        [
            Instrument(
                token=str(first + n), symbol=option_symbol(underlying, expiry, strike, kind),
                name=underlying, exchange=exchange, exchange_type=2 if exchange == "NFO" else 4,
                instrument_type="OPTIDX", expiry=expiry, strike=strike, lot_size=75,
            )
            for n, (strike, kind) in enumerate((s, k) for s in strikes for k in kinds)
        ]
    )  # fmt: skip


def fair_price(
    *, strike: float, kind: str, spot: float = SPOT, at: datetime = TRADING_DAY, vol: float = VOL
) -> float:
    """The Black-76 premium with the forward at the spot carried at RATE."""
    years = years_between(at, option_expires_at(EXPIRY))
    forward = spot * math.exp(RATE * years)
    return black76_price(
        is_call=kind == "CE", forward=forward, strike=strike, years=years, rate=RATE, vol=vol
    )


def spot_store(price: float = SPOT, at: datetime = TRADING_DAY) -> None:
    store([Tick(token=NIFTY_TOKEN, symbol="NIFTY", ltpc=price, received_at=at, exchange="NSE")])


def option_tick(option: Instrument, *, ltpc: float, at: datetime, **fields: object) -> Tick:
    return Tick(
        token=option.token, symbol=option.symbol, ltpc=ltpc, received_at=at, exchange="NFO",
        exchange_type=2, **fields,
    )  # fmt: skip


def chain_store(
    options: list[Instrument],
    *,
    at: datetime = TRADING_DAY - timedelta(seconds=2),
    vol: float = VOL,
    spot_at: datetime = TRADING_DAY,
) -> None:
    """A SNAP_QUOTE-like tick of each option at its fair price (OI and volume from the
    strike), the spot's tick at `spot_at`."""
    spot_store(at=spot_at)
    store(
        [
            option_tick(
                option,
                ltpc=fair_price(strike=option.strike, kind=option.symbol[-2:], at=spot_at, vol=vol),
                at=at,
                volume=int(option.strike),
                close=100.0,
                raw_data={"open_interest": int(option.strike) * 10},
            )
            for option in options
        ]
    )
