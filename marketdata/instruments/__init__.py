"""The instrument master: Angel One's scrip master read as a stream (`master`), synced into
`Instrument` in bounded memory (`sync`, one record at a time through `records`), and its
search (`search`)."""

from marketdata.instruments.master import (
    MasterUnreadableError,
    instruments_sync_file,
    instruments_sync_url,
)
from marketdata.instruments.search import instruments_search
from marketdata.instruments.sync import InstrumentSyncResult, instruments_sync

__all__ = [
    "InstrumentSyncResult",
    "MasterUnreadableError",
    "instruments_search",
    "instruments_sync",
    "instruments_sync_file",
    "instruments_sync_url",
]
