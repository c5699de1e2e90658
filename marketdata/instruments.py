"""The instrument master: Angel One's scrip master synced into `Instrument`, and its search."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Q, QuerySet

from marketdata.market_calendar import EXCHANGE_TYPES
from marketdata.models import Instrument

_SYNCED_FIELDS = (
    "symbol", "name", "exchange_type", "instrument_type", "expiry", "strike", "lot_size",
    "tick_size",
)  # fmt: skip


@dataclass(frozen=True)
class InstrumentSyncResult:
    created: int
    updated: int
    removed: int
    skipped: int  # malformed records, or segments the WebSocket cannot stream


def _instrument_from_master(record: dict[str, Any]) -> Instrument | None:
    """One scrip master record; strikes and tick sizes arrive in paise."""
    try:
        exchange = str(record["exch_seg"]).upper()
        expiry = str(record.get("expiry") or "").strip()
        instrument = Instrument(
            token=str(record["token"]).strip(),
            symbol=str(record["symbol"]).strip(),
            name=str(record.get("name") or "").strip(),
            exchange=exchange,
            exchange_type=EXCHANGE_TYPES[exchange],
            instrument_type=str(record.get("instrumenttype") or "").strip(),
            expiry=datetime.strptime(expiry, "%d%b%Y").date() if expiry else None,  # noqa: DTZ007 - a date
            strike=float(record.get("strike") or 0) / 100 or None,
            lot_size=int(float(record.get("lotsize") or 1)),
            tick_size=float(record.get("tick_size") or 5) / 100,
        )
    except (KeyError, ValueError, TypeError):
        return None
    return instrument if instrument.token and instrument.symbol else None


def _synced_values(instrument: Instrument) -> tuple[Any, ...]:
    return tuple(getattr(instrument, name) for name in _SYNCED_FIELDS)


def instruments_sync(*, records: Iterable[dict[str, Any]]) -> InstrumentSyncResult:
    """Upsert Angel One's instrument master by (exchange, token); drop contracts it no longer
    lists (expired ones). Subscribed instruments are left alone: they keep their short codes."""
    existing = {(i.exchange, i.token): i for i in Instrument.objects.all()}
    created, changed, seen, skipped = [], [], set(), 0
    for record in records:
        instrument = _instrument_from_master(record)
        if instrument is None:
            skipped += 1
            continue
        key = (instrument.exchange, instrument.token)
        if key in seen:
            continue
        seen.add(key)
        current = existing.get(key)
        if current is None:
            created.append(instrument)
        elif not current.subscribed and _synced_values(current) != _synced_values(instrument):
            instrument.pk = current.pk
            changed.append(instrument)
    gone = [i.pk for key, i in existing.items() if key not in seen and not i.subscribed]
    Instrument.objects.bulk_create(created, batch_size=1000)
    Instrument.objects.bulk_update(changed, fields=_SYNCED_FIELDS, batch_size=500)
    for start in range(0, len(gone), 1000):
        Instrument.objects.filter(pk__in=gone[start : start + 1000]).delete()
    return InstrumentSyncResult(len(created), len(changed), len(gone), skipped)


def instruments_search(
    *,
    search: str = "",
    exchange: str | None = None,
    instrument_type: str | None = None,
    expiry: date | None = None,
) -> QuerySet[Instrument]:
    """Instruments whose symbol starts with, or name contains, `search` (any case)."""
    instruments = Instrument.objects.all()
    if search:
        instruments = instruments.filter(Q(symbol__istartswith=search) | Q(name__icontains=search))
    conditions = {"exchange": exchange, "instrument_type": instrument_type, "expiry": expiry}
    return instruments.filter(**{k: v for k, v in conditions.items() if v is not None})
