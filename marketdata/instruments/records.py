"""One record of Angel One's scrip master -> a `MasterInstrument`, or None when malformed."""

import math
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from django.db.models import CharField

from marketdata.market_calendar import EXCHANGE_TYPES
from marketdata.models import Instrument

_LOT_SIZE_MAX = 2**31 - 1  # a PositiveIntegerField is a 32-bit integer on PostgreSQL


@lru_cache(maxsize=1024)  # a master has a few hundred expiries over 100,000 rows
def _expiry(text: str) -> date | None:
    return datetime.strptime(text, "%d%b%Y").date() if text else None  # noqa: DTZ007 - a date


def _text(record: dict[str, Any], key: str) -> str:
    return str(record.get(key) or "").strip()


def _paise(value: Any) -> float:
    """Rupees from the master's paise; a value the store could not compare is malformed."""
    rupees = float(value or 0) / 100
    if not math.isfinite(rupees):
        raise ValueError(f"not a finite amount: {value!r}")
    return rupees


class MasterInstrument(NamedTuple):
    """One instrument as the master lists it: its key, then what the master decides (not
    `subscribed`). A plain tuple: cheap to make 100,000 times and to compare with a row."""

    exchange: str
    token: str
    symbol: str
    name: str
    exchange_type: int
    instrument_type: str
    expiry: date | None
    strike: float | None
    lot_size: int
    tick_size: float

    @property
    def synced(self) -> tuple[Any, ...]:
        """The values of SYNCED_FIELDS, in their order."""
        return self[2:]

    def instrument(self) -> Instrument:
        return Instrument(**self._asdict())


SYNCED_FIELDS = MasterInstrument._fields[2:]
_TEXT_LIMITS = {
    field.name: field.max_length
    for field in Instrument._meta.concrete_fields
    if isinstance(field, CharField)
    and field.name in MasterInstrument._fields
    and field.max_length is not None
}


def master_instrument(record: Any) -> MasterInstrument | None:
    """One master record read (strikes and tick sizes arrive in paise; a strike of 0 or -1,
    as indices, equities and futures have, means none). None when the record is malformed,
    too long for its column, or on a segment the WebSocket cannot stream."""
    try:
        exchange = _text(record, "exch_seg").upper()
        strike = _paise(record.get("strike"))
        instrument = MasterInstrument(
            exchange=exchange,
            token=_text(record, "token"),
            symbol=_text(record, "symbol"),
            name=_text(record, "name"),
            exchange_type=EXCHANGE_TYPES[exchange],
            instrument_type=_text(record, "instrumenttype"),
            expiry=_expiry(_text(record, "expiry")),
            strike=strike if strike > 0 else None,
            lot_size=int(float(record.get("lotsize") or 1)),
            tick_size=_paise(record.get("tick_size") or 5),
        )
    except (AttributeError, KeyError, ValueError, TypeError, OverflowError):
        return None
    fits = all(len(getattr(instrument, name)) <= most for name, most in _TEXT_LIMITS.items())
    if not (instrument.token and instrument.symbol and fits):
        return None
    return instrument if 0 <= instrument.lot_size <= _LOT_SIZE_MAX else None
