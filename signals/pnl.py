"""Profit and loss of a signal at a price: per lot and for the whole signal.

Points are per unit of the option, positive when the trade gains: `last - entry` for a BUY,
`entry - last` for a SELL. A lot is `lot_size` units, so a lot gains points x lot_size rupees;
the signal is `quantity` lots. A signal without a lot size (migrated, it matched no contract)
counts one unit a lot: its quantity was stored before quantities counted lots.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signals.models import Signal, SignalType, Status

# The lot size of a signal that has none (see the module's docstring).
UNIT_LOT = 1

# Why a signal carries no unrealised P&L (`unrealised_pnl_reason` on the wire).
NOT_ACTIVE = "not_active"  # closed: its result is `points` at `exit_price`
NO_PRICE = "no_price"  # no price of its option is known (never streamed, nothing stored)


@dataclass(frozen=True, slots=True)
class Quote:
    """The option's last traded price and its exchange time."""

    price: float
    at: datetime


def lot_units(lot_size: int | None) -> int:
    return lot_size or UNIT_LOT


def points_at(*, signal_type: str, entry_price: float, price: float) -> float:
    """Points per unit gained at `price`: positive is a gain, for either direction."""
    move = price - entry_price
    return -move if signal_type == SignalType.SELL else move


def _amounts(points: float, rupees: float, percent: float) -> dict[str, float]:
    return {"points": round(points, 4), "rupees": round(rupees, 2), "percent": round(percent, 4)}


def pnl_at(
    *, signal_type: str, entry_price: float, price: float, quantity: int, lot_size: int | None
) -> dict[str, dict[str, float]]:
    """`per_lot` and `total` (x quantity lots): points, rupees and percent of the entry."""
    points = points_at(signal_type=signal_type, entry_price=entry_price, price=price)
    per_lot_rupees = points * lot_units(lot_size)
    percent = points / entry_price * 100
    return {
        "per_lot": _amounts(points, per_lot_rupees, percent),
        "total": _amounts(points * quantity, per_lot_rupees * quantity, percent),
    }


def signal_unrealised(signal: Signal, quote: Quote | None) -> dict[str, Any]:
    """The live fields of a signal: its option's last price and time, and the P&L there.

    Only an ACTIVE signal has them; otherwise (or without a price) they are null and
    `unrealised_pnl_reason` says why.
    """
    if signal.status != Status.ACTIVE or quote is None:
        return {
            "last_price": None,
            "last_price_at": None,
            "unrealised_pnl": None,
            "unrealised_pnl_reason": NOT_ACTIVE if signal.status != Status.ACTIVE else NO_PRICE,
        }
    pnl = pnl_at(
        signal_type=signal.signal_type,
        entry_price=signal.entry_price,
        price=quote.price,
        quantity=signal.quantity,
        lot_size=signal.lot_size,
    )
    return {
        "last_price": float(quote.price),
        "last_price_at": quote.at,
        "unrealised_pnl": pnl,
        "unrealised_pnl_reason": None,
    }
