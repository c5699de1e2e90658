"""The one wire shape of a tick, for the REST API and the live push alike.

It renders a stored `MarketData` row or a freshly ingested `Tick` (their attribute names
match). No DRF serializer sits on the feed's path: DRF's generic per-field machinery cost
about 20 us a tick, more than storing it, and every published tick passes through here.
"""

from typing import Any

from trading_signals.wire import utc_iso

TICK_FIELDS = (
    "symbol", "token", "exchange", "exchange_type", "ltpc", "ch", "chp", "open", "high", "low",
    "close", "volume", "received_at", "source", "data_quality", "is_realtime", "depth",
)  # fmt: skip
_TEXT = ("symbol", "token", "exchange", "source", "data_quality")
_PRICES = ("ltpc", "ch", "chp", "open", "high", "low", "close")
_COUNTS = ("exchange_type", "volume")


def tick_render(tick: Any) -> dict[str, Any]:
    """A `Tick` or `MarketData` as JSON-ready values, in `TICK_FIELDS` order."""
    value = tick.__getattribute__
    row: dict[str, Any] = {name: str(value(name)) for name in _TEXT}
    for name in _PRICES:
        price = value(name)
        row[name] = None if price is None else float(price)
    for name in _COUNTS:
        count = value(name)
        row[name] = None if count is None else int(count)
    row["received_at"] = utc_iso(value("received_at"))
    row["is_realtime"] = bool(value("is_realtime"))
    row["depth"] = value("depth")
    return {name: row[name] for name in TICK_FIELDS}
