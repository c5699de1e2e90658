"""What the admin's signal pages show of the market: the option's quote, the P&L at it, and
the day's 1m candles of the option and its underlying with the signal's levels.

Reads only (selectors' layer): the admin (signals/admin_market.py) renders them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from marketdata.market_calendar import IST, ist_day, ist_day_bounds
from marketdata.models import Instrument
from marketdata.options.chain import option_valued
from marketdata.selectors import Candle, candles_for
from signals.models import Signal, SignalType, Status
from signals.pnl import pnl_at
from signals.selectors import latest_quotes

LEVELS = ("entry_price", "target_price", "stop_loss")


@dataclass(frozen=True)
class Trade:
    """The option and the trade as the form holds them (levels may be missing while typed)."""

    symbol: str
    underlying: str
    lot_size: int | None
    signal_type: str | None = None
    quantity: int | None = None
    levels: Mapping[str, float] | None = None
    active: bool = True  # a closed signal has no unrealised P&L


def trade_of(
    *, signal: Signal | None, instrument: Instrument | None, typed: Mapping[str, Any]
) -> Trade | None:
    """The option of a published signal (its own copies) or the instrument a form picked,
    with the trade `typed` in the form; what is not typed is the signal's."""

    def value(name: str) -> Any:
        typed_value = typed.get(name)
        return getattr(signal, name, None) if typed_value is None else typed_value

    levels = {name: value(name) for name in LEVELS if value(name) is not None}
    trade = {"signal_type": value("signal_type"), "quantity": value("quantity"), "levels": levels}
    if signal is not None:
        active = signal.status == Status.ACTIVE
        return Trade(signal.symbol, signal.underlying, signal.lot_size, **trade, active=active)
    if instrument is not None:
        return Trade(instrument.symbol, instrument.name, instrument.lot_size, **trade)
    return None


def option_quote(*, symbol: str, now: datetime) -> dict[str, Any]:
    """The option's quote shown beside the trade fields: its last price and that price's
    time, and its IV and Greeks as the option chain values them ("greeks": label -> shown
    value), or why there are none ("greeks_reason")."""
    quote = latest_quotes(symbols=[symbol]).get(symbol)
    valued = option_valued(symbol=symbol, now=now)
    value = None if valued is None else valued.valuation
    greeks = None if value is None or value.iv is None else value.greeks
    shown = None
    if value is not None and value.iv is not None and greeks is not None:
        shown = {
            "IV": f"{value.iv * 100:.2f}%",
            "Delta": f"{greeks.delta:.4f}",
            "Gamma": f"{greeks.gamma:.6f}",
            "Theta (a day)": f"{greeks.theta:.2f}",
            "Vega (1% vol)": f"{greeks.vega:.2f}",
        }
    reason = "not an index option of the master" if value is None else value.reason
    return {
        "symbol": symbol,
        "price": None if quote is None else quote.price,
        "at": None if quote is None else quote.at,
        "greeks": shown,
        "greeks_reason": None if shown else (reason or "not solvable").replace("_", " "),
    }


def _pnl(trade: Trade, price: float | None) -> dict[str, dict[str, float]] | None:
    levels = trade.levels or {}
    entry = levels.get("entry_price")
    if not trade.active or price is None or entry is None:
        return None  # closed (its result is its exit), or nothing to take the P&L at yet
    if trade.signal_type not in SignalType.values:
        return None
    return pnl_at(
        signal_type=trade.signal_type,
        entry_price=entry,
        price=price,
        quantity=trade.quantity or 1,
        lot_size=trade.lot_size,
    )


@dataclass(frozen=True)
class ChartData:
    day: date
    option: list[Candle]
    underlying: list[Candle]


def chart_data(*, trade: Trade, quote_at: datetime | None, now: datetime) -> ChartData:
    """The 1m candles of the option and its underlying on the IST day of the option's last
    price (today when it has none): a chart opened after the close, or on a holiday, still
    shows the last session."""
    day = ist_day(quote_at or now)
    start, end = ist_day_bounds(day)
    end = min(end, now)
    return ChartData(
        day=day,
        option=candles_for(symbol=trade.symbol, interval="1m", start=start, end=end),
        underlying=candles_for(symbol=trade.underlying, interval="1m", start=start, end=end),
    )


def market_panel(*, trade: Trade | None, now: datetime) -> dict[str, Any]:
    """The admin panel's context: quote, P&L at it, chart data and levels (`trade` None:
    nothing picked yet)."""
    if trade is None:
        return {"trade": None}
    quote = option_quote(symbol=trade.symbol, now=now)
    return {
        "trade": trade,
        "quote": quote,
        "pnl": _pnl(trade, quote["price"]),
        "chart": chart_data(trade=trade, quote_at=quote["at"], now=now),
        "levels": dict(trade.levels or {}),
        "now": now.astimezone(IST),
    }
