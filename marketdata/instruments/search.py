"""The instrument search over what the master loaded."""

from datetime import date

from django.db.models import Q, QuerySet

from marketdata.models import Instrument


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
