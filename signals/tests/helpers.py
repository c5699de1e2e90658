"""Valid signal data, the instrument master's option contracts it names, a history of closed
signals and generated ticks for the signals tests."""

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from accounts.models import User
from marketdata.live import publish
from marketdata.market_calendar import EXCHANGE_TYPES, IST
from marketdata.models import Instrument, MarketData
from marketdata.ticks import Tick
from signals import services
from signals.models import Signal, Underlying

OPTION = "NIFTY25DEC24000CE"
SELL_OPTION = "BANKNIFTY25DEC52000PE"
# The contracts the tests publish signals on (the `option_master` fixture creates them).
TEST_OPTIONS = (
    OPTION, SELL_OPTION, "NIFTY25DEC24500CE", "FINNIFTY25DEC23000CE", "SENSEX25DEC80000CE",
)  # fmt: skip
LOT_SIZES = {"NIFTY": 75, "BANKNIFTY": 35, "FINNIFTY": 65, "SENSEX": 20}
_tokens = itertools.count(50001)


def today_ist() -> date:
    return timezone.now().astimezone(IST).date()


def option_contract_create(
    symbol: str = OPTION,
    *,
    expiry: date | None = None,
    token: str | None = None,
    instrument_type: str = "OPTIDX",
    name: str | None = None,
) -> Instrument:
    """The master's contract for a symbol the tests spell UNDERLYING...STRIKE(CE|PE), e.g.
    NIFTY25DEC24000CE: NIFTY, strike 24000, a call; it expires in 30 days unless `expiry`."""
    underlying = max((u for u in Underlying.values if symbol.startswith(u)), key=len, default="")
    strike = re.search(r"(\d+)(CE|PE)$", symbol)
    assert strike, f"{symbol} does not end in STRIKE + CE/PE"
    exchange = "BFO" if underlying in ("SENSEX", "BANKEX") else "NFO"
    return Instrument.objects.create(
        token=token or str(next(_tokens)),
        symbol=symbol,
        name=underlying if name is None else name,
        exchange=exchange,
        exchange_type=EXCHANGE_TYPES[exchange],
        instrument_type=instrument_type,
        expiry=expiry or today_ist() + timedelta(days=30),
        strike=float(strike.group(1)),
        lot_size=LOT_SIZES.get(underlying, 1),
    )


def dated_option(expiry: date) -> str:
    """A NIFTY 24000 call expiring on `expiry`, created in the master; returns its symbol."""
    symbol = f"NIFTY{expiry:%d%b}24000CE".upper()
    option_contract_create(symbol, expiry=expiry)
    return symbol


def signal_data(**overrides: Any) -> dict[str, Any]:
    """A valid BUY call: stop 100 < entry 120 < target 150, 2 lots."""
    return {
        "symbol": OPTION,
        "signal_type": "BUY",
        "entry_price": 120.0,
        "target_price": 150.0,
        "stop_loss": 100.0,
        "quantity": 2,
        "confidence": 70,
        **overrides,
    }


# The token of OPTION in the end-to-end tests' master, which the local Angel One peer streams.
FEED_OPTION_TOKEN = "43001"


def lasting(**overrides: Any) -> dict[str, Any]:
    """A signal the local Angel One peer's prices (about 1,000 for an option) never close."""
    return signal_data(entry_price=1000.0, target_price=5000.0, stop_loss=100.0, **overrides)


def sell_data(**overrides: Any) -> dict[str, Any]:
    """A valid SELL put: target 90 < entry 120 < stop 140."""
    sell = {"symbol": SELL_OPTION, "signal_type": "SELL", "target_price": 90.0, "stop_loss": 140.0}
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
    """Through the services, on the TEST_OPTIONS contracts (created by the caller): signals of
    the desk and an analyst closed on HISTORY_DAY (and one 30 days before), one cancelled and
    one still active; returns the analyst. A plain function so that the MongoDB probe
    (`mongodb/mongomock_probe.py`) stores the very same history."""
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


def stored_tick(price: float, at: datetime, symbol: str = OPTION) -> MarketData:
    """A tick in the store, as the feed leaves it (an index's too: NIFTY's level)."""
    return MarketData.objects.create(
        tk="45678",
        token="45678",
        symbol=symbol,
        ltpc=price,
        received_at=at,
        source="angelone",
        data_quality="GOOD",
    )


# --- Live events ----------------------------------------------------------------------

DEADLINE = 10  # seconds; a poll deadline, not an expected duration


def events_after(write: Callable[[], Any], *, tag: str, count: int) -> list[dict[str, Any]]:
    """Run the sync `write` while joined to the broadcast group; return the tagged events.

    Other test processes may share the Redis server, so only events carrying `tag` count.
    """

    async def scenario() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(publish.SIGNALS_GROUP, channel)
        try:
            await sync_to_async(write)()
            async with asyncio.timeout(DEADLINE):
                return [await _next_tagged(layer, channel, tag) for _ in range(count)]
        finally:
            await layer.flush()

    return async_to_sync(scenario)()


async def _next_tagged(layer: Any, channel: str, tag: str) -> dict[str, Any]:
    while True:
        message = await layer.receive(channel)
        if tag in message["text"]:
            return json.loads(message["text"])
