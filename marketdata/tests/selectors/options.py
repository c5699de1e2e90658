"""Index options for tests that need quiet symbols beside the busy indices."""

from datetime import date, datetime

from marketdata.models import Instrument
from marketdata.ticks import Tick


def options(count: int) -> list[Instrument]:
    """`count` NFO index options (NIFTY30JAN2520000CE, ...20050CE, ...), as sync_instruments
    loads them."""
    return Instrument.objects.bulk_create(
        [
            Instrument(
                token=str(700_000 + n), symbol=f"NIFTY30JAN25{20_000 + 50 * n}CE", name="NIFTY",
                exchange="NFO", exchange_type=2, instrument_type="OPTIDX",
                expiry=date(2025, 1, 30), strike=20_000.0 + 50 * n, lot_size=75,
            )
            for n in range(count)
        ]
    )  # fmt: skip


def option_tick(option: Instrument, at: datetime, ltpc: float = 100.0) -> Tick:
    return Tick(token=option.token, symbol=option.symbol, ltpc=ltpc, received_at=at)
