"""Valid signal data, a history of closed signals and generated ticks for the signals tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import User
from marketdata.ticks import Tick
from signals import services
from signals.models import Signal

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


# The history's day: the signals it closes were published at 09:30 IST on it.
HISTORY_DAY = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)


def _closed(
    author: User, data: dict, exit_price: float, held: timedelta, at: datetime = HISTORY_DAY
) -> Signal:
    signal = services.signal_create(author=author, data=data)
    services.signal_close(signal=signal, exit_price=exit_price)
    Signal.objects.filter(pk=signal.pk).update(created_at=at, closed_at=at + held)
    return signal


def history_make(*, desk: User) -> User:
    """Through the services: signals of the desk and an analyst closed on HISTORY_DAY (and one
    30 days before), one cancelled and one still active; returns the analyst. A plain function
    so that the MongoDB probe (`mongodb/mongomock_probe.py`) stores the very same history."""
    other = User.objects.create_user("analyst@example.com", "x", name="Analyst", is_staff=True)
    _closed(desk, signal_data(), 150.0, timedelta(hours=1))  # +30
    _closed(desk, signal_data(), 100.0, timedelta(hours=3))  # -20
    _closed(other, sell_data(), 90.0, timedelta(minutes=30))  # SELL: +30
    _closed(other, sell_data(), 95.0, timedelta(hours=1), at=HISTORY_DAY - timedelta(days=30))
    services.signal_cancel(signal=services.signal_create(author=other, data=sell_data()))
    services.signal_create(author=desk, data=signal_data())  # still active
    return other


def tick(price: float, at: datetime, symbol: str = OPTION) -> Tick:
    return Tick(token="123456", symbol=symbol, ltpc=price, received_at=at, exchange="NFO")


def ticks_after(start: datetime, prices: list[float], symbol: str = OPTION) -> list[Tick]:
    """One tick a second, starting a second after `start`."""
    return [tick(p, start + timedelta(seconds=i + 1), symbol) for i, p in enumerate(prices)]
