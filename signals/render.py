"""The one signal shape, for the REST API and the live `signal` events alike."""

from collections.abc import Iterable, Mapping
from typing import Any

from signals.models import Signal
from signals.pnl import Quote, signal_unrealised
from trading_signals.wire import key_render, optional_date_iso, optional_utc_iso, utc_iso

SIGNAL_FIELDS = (
    "id", "user_id", "author_name", "symbol", "underlying", "option_type", "signal_type",
    "entry_price", "target_price", "stop_loss", "quantity", "confidence", "status", "notes",
    "strike", "expiry", "token", "exchange", "lot_size", "instrument_matched", "outcome",
    "exit_price", "points", "last_price", "last_price_at", "unrealised_pnl",
    "unrealised_pnl_reason", "closed_at", "created_at", "updated_at",
)  # fmt: skip
_TEXT = (
    "symbol", "underlying", "option_type", "signal_type", "status", "notes", "token", "exchange",
)  # fmt: skip
_PRICES = ("entry_price", "target_price", "stop_loss", "strike", "exit_price", "points")


def _price(value: float | None) -> float | None:
    return None if value is None else float(value)


def signal_render(signal: Signal, *, quote: Quote | None = None) -> dict[str, Any]:
    """`quote`: the option's last price (an ACTIVE signal's unrealised P&L is taken there)."""
    row: dict[str, Any] = {
        "id": key_render(signal.pk),
        "user_id": key_render(signal.user_id),
        "author_name": signal.user.name,
    }
    row.update({name: getattr(signal, name) for name in _TEXT})
    row.update({name: _price(getattr(signal, name)) for name in _PRICES})
    row.update(signal_unrealised(signal, quote))
    row.update(
        quantity=signal.quantity,
        lot_size=signal.lot_size,
        instrument_matched=signal.instrument_matched,
        confidence=signal.confidence,
        expiry=optional_date_iso(signal.expiry),
        outcome=signal.outcome,
        last_price_at=optional_utc_iso(row["last_price_at"]),
        closed_at=optional_utc_iso(signal.closed_at),
        created_at=utc_iso(signal.created_at),
        updated_at=utc_iso(signal.updated_at),
    )
    return {name: row[name] for name in SIGNAL_FIELDS}


def signals_render(signals: Iterable[Signal], quotes: Mapping[str, Quote]) -> list[dict[str, Any]]:
    """Each signal with the quote of its symbol in `quotes` (`selectors.signal_quotes`)."""
    return [signal_render(signal, quote=quotes.get(signal.symbol)) for signal in signals]
