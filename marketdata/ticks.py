"""The normalized tick: what every feed source produces and what ingestion consumes.

Attribute names match `marketdata.MarketData` fields, so one serializer renders a stored row
and a freshly ingested tick alike (REST and the live push share one shape).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Tick:
    token: str
    symbol: str
    ltpc: float  # last traded price, in rupees
    received_at: datetime  # when the market event happened (exchange time), aware
    exchange: str = ""
    exchange_type: int | None = None
    source: str = "angelone"
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None  # previous session's close, as Angel One sends it
    volume: int | None = None
    ch: float | None = None
    chp: float | None = None
    depth: dict[str, Any] | None = None
    sequence: int | None = None
    is_realtime: bool = True
    data_quality: str = ""  # graded by ingestion
    raw_data: dict[str, Any] = field(default_factory=dict)
