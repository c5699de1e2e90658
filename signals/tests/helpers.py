"""Valid signal data and generated ticks for the signals tests."""

from datetime import datetime, timedelta
from typing import Any

from marketdata.ticks import Tick

OPTION = "NIFTY25DEC24000CE"


def signal_data(**overrides: Any) -> dict[str, Any]:
    """A valid BUY call: stop 100 < entry 120 < target 150."""
    return {
        "symbol": OPTION,
        "option_type": "CE",
        "signal_type": "BUY",
        "entry_price": 120.0,
        "target_price": 150.0,
        "stop_loss": 100.0,
        "quantity": 75,
        "confidence": 70,
        **overrides,
    }


def sell_data(**overrides: Any) -> dict[str, Any]:
    """A valid SELL put: target 90 < entry 120 < stop 140."""
    sell = {
        "symbol": "BANKNIFTY25DEC52000PE",
        "option_type": "PE",
        "signal_type": "SELL",
        "target_price": 90.0,
        "stop_loss": 140.0,
    }
    return signal_data(**{**sell, **overrides})


def tick(price: float, at: datetime, symbol: str = OPTION) -> Tick:
    return Tick(token="123456", symbol=symbol, ltpc=price, received_at=at, exchange="NFO")


def ticks_after(start: datetime, prices: list[float], symbol: str = OPTION) -> list[Tick]:
    """One tick a second, starting a second after `start`."""
    return [tick(p, start + timedelta(seconds=i + 1), symbol) for i, p in enumerate(prices)]
