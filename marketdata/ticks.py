"""The normalized tick: what every feed source produces and what ingestion consumes.

Attribute names match `marketdata.MarketData` fields, so one serializer renders a stored row
and a freshly ingested tick alike (REST and the live push share one shape).

`Tick` is a dataclass (`fields`, `asdict`, `replace` and `__dataclass_fields__` work), built
for a feed that makes hundreds of thousands a second:

- `received_at`, the exchange time as an aware UTC datetime, may be kept as the integer
  milliseconds since the epoch that exchanges send (`Tick.from_exchange_ms`). The datetime
  is then made on first read and kept as the tick's own attribute: a source never pays for
  it, only what reads it, once. Assigning `received_at` (an aware datetime; the constructor
  does) works as for any attribute, and `exchange_ms` follows it.
- Defaults are class attributes, so a tick holds only what was set: `Tick.from_exchange_ms`
  sets nine values and nothing else. Its ticks share one read-only empty `raw_data`
  (`EMPTY_RAW_DATA`): give such a tick raw data by assigning a dict, as every source does.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

# The exchange times (ms since the epoch) a datetime can hold: years 1 to 9999.
EXCHANGE_MS_MIN = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _MS
EXCHANGE_MS_MAX = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MS


class _EmptyRawData(dict[str, Any]):
    """An empty dict that refuses changes: one is shared by many ticks."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a tick's shared empty raw_data cannot change: assign a new dict")

    __setitem__ = __delitem__ = __ior__ = setdefault = update = pop = popitem = clear = _refuse


# `raw_data` of the ticks `Tick.from_exchange_ms` makes: a dict each would cost as much as a
# tenth of making an Angel One LTP tick.
EMPTY_RAW_DATA: dict[str, Any] = _EmptyRawData()


class _ExchangeTimeState:
    """What a tick knows of its exchange time as milliseconds, declared outside `Tick`'s body
    so that they are not dataclass fields: `_exchange_ms` is the time of `_exchange_at` if
    that is set, else (a tick made from milliseconds whose `received_at` was never read) of
    the tick."""

    _exchange_ms: int | None = None
    _exchange_at: datetime | None = None


class _ExchangeTime:
    """`Tick.received_at` of a tick made from milliseconds, until it is first read: it makes
    the datetime then, and stores it as the tick's own attribute. A non-data descriptor, so
    a tick's own `received_at` (made here, or assigned, as the constructor does) is an
    ordinary attribute, read and written at the usual speed."""

    def __get__(self, tick: Any, owner: object = None) -> Any:
        if tick is None:
            return self
        ms = tick._exchange_ms
        if ms is None:  # made by object.__new__ without milliseconds: no time at all
            raise AttributeError("received_at")
        at = tick._exchange_at = _EPOCH + timedelta(milliseconds=ms)
        tick.received_at = at
        return at


@dataclass
class Tick(_ExchangeTimeState):
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

    @property
    def exchange_ms(self) -> int:
        """`received_at` in whole milliseconds since the epoch (floored)."""
        at = self.received_at
        ms = self._exchange_ms
        if ms is None or at is not self._exchange_at:  # not made from ms, or assigned since
            ms = self._exchange_ms = (at - _EPOCH) // _MS
            self._exchange_at = at
        return ms

    @classmethod
    def from_exchange_ms(
        cls,
        token: str,
        symbol: str,
        ltpc: float,
        exchange_ms: int,
        exchange: str,
        exchange_type: int | None,
        source: str,
        sequence: int | None,
    ) -> "Tick":
        """The lean way to make a tick, for sources that read times as milliseconds: no
        datetime, no keyword arguments, the other fields left at their defaults (`raw_data`
        the shared `EMPTY_RAW_DATA`). `exchange_ms` must lie in [EXCHANGE_MS_MIN,
        EXCHANGE_MS_MAX]. The Angel One frame parser does the same, inlined."""
        tick = _new(cls)
        tick.token = token
        tick.symbol = symbol
        tick.ltpc = ltpc
        tick._exchange_ms = exchange_ms
        tick.exchange = exchange
        tick.exchange_type = exchange_type
        tick.source = source
        tick.sequence = sequence
        tick.raw_data = EMPTY_RAW_DATA
        return tick


_new = object.__new__

# A tick made from milliseconds has no `received_at` of its own until it is first read.
Tick.received_at = _ExchangeTime()  # type: ignore[assignment]

# CPython (3.11) gives a class's instances one shared table of attribute names, and every
# new instance shrinks the room left in it for names not yet there: a name first set after
# many ticks exist (ingestion grading a parser's ticks, a QUOTE field after LTP ticks) would
# then give each later tick a dict of its own, making every store several times slower.
# One complete tick, made first, puts every attribute's name in the table.
_first = Tick(token="", symbol="", ltpc=0.0, received_at=_EPOCH)
_first._exchange_ms, _first._exchange_at = 0, _EPOCH
del _first
