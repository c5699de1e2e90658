"""Angel One SmartAPI WebSocket 2.0 binary frames -> normalized ticks.

Layout (little-endian), as smartapi-python's `SmartWebSocketV2._parse_binary_data` reads it:

    0 mode (u8) | 1 exchange type (u8) | 2 token (25 bytes, NUL-terminated ASCII)
    27 sequence (i64) | 35 exchange timestamp, ms since the epoch (i64) | 43 LTP, paise (i64)
    QUOTE adds: 51 last traded qty | 59 average price | 67 volume (i64) | 75 total buy qty |
      83 total sell qty (f64) | 91 open | 99 high | 107 low | 115 previous close (i64)
    SNAP_QUOTE adds: 123 last traded time, s | 131 open interest | 139 OI change (i64) |
      147 best five: 10 x (flag u16, qty i64, price i64, orders u16) |
      347 upper circuit | 355 lower circuit | 363 52-week high | 371 52-week low (i64)

Each mode has one precompiled `struct.Struct`, so a frame is decoded by a single
`unpack_from` call. A frame whose length is not exactly its mode's size, or whose mode is
unknown, is counted in `stats["malformed"]` and skipped: one bad frame never ends the stream.
"""

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from marketdata.market_calendar import EXCHANGE_TYPES
from marketdata.ticks import Tick

LTP, QUOTE, SNAP_QUOTE = 1, 2, 3
MODES = {"ltp": LTP, "quote": QUOTE, "snap_quote": SNAP_QUOTE}
EXCHANGES = {number: segment for segment, number in EXCHANGE_TYPES.items()}
TOKEN_BYTES = 25

_HEAD = "<BB25sqqq"
_QUOTE_TAIL = "qqqddqqqq"
_BEST_FIVE = "HqqH" * 10
FRAME_STRUCTS = {
    LTP: struct.Struct(_HEAD),
    QUOTE: struct.Struct(_HEAD + _QUOTE_TAIL),
    SNAP_QUOTE: struct.Struct(_HEAD + _QUOTE_TAIL + "qqq" + _BEST_FIVE + "qqqq"),
}
FRAME_SIZES = {mode: layout.size for mode, layout in FRAME_STRUCTS.items()}  # 51, 123, 379

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class Subscribable(Protocol):
    """What a source needs to subscribe an instrument: a FeedInstrument or an Instrument row."""

    @property
    def symbol(self) -> str: ...
    @property
    def token(self) -> str: ...
    @property
    def exchange_type(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FeedInstrument:
    """What a source needs to subscribe an instrument (the Instrument model fits too)."""

    symbol: str
    token: str
    exchange_type: int


_BEST_FIVE_AT = range(18, 58, 4)


def _best_five(fields: tuple[Any, ...]) -> dict[str, list[dict[str, Any]]]:
    # Flag 1 is a bid and 0 an offer: smartapi-python reaches the same split by filing
    # flag 0 under "buy" and then swapping the two names.
    levels = [
        (
            fields[at],
            {"price": fields[at + 2] / 100, "quantity": fields[at + 1], "orders": fields[at + 3]},
        )
        for at in _BEST_FIVE_AT
    ]
    return {
        "buy": [level for flag, level in levels if flag],
        "sell": [level for flag, level in levels if not flag],
    }


class FrameParser:
    """Decodes frames and normalizes them into ticks for the instruments it knows.

    `decode` is the parser proper (frame -> fields, what smartapi-python's function does);
    `normalize` turns fields into a `Tick` (token -> symbol, paise -> rupees, ms -> datetime).
    """

    def __init__(self, *, instruments: Iterable[Subscribable], source: str = "angelone") -> None:
        self.source = source
        self.stats = {"frames": 0, "malformed": 0, "unknown_token": 0}
        named = {str(item.token): (str(item.token), item.symbol) for item in instruments}
        self._by_token = named
        # Keyed by the token's padded wire form, so a known frame needs no decoding.
        self._symbols = {_wire_token(token): known for token, known in named.items()}
        self._layouts = {
            mode: (layout.size, layout.unpack_from) for mode, layout in FRAME_STRUCTS.items()
        }
        self._builders = {LTP: self._ltp, QUOTE: self._quote, SNAP_QUOTE: self._snap}

    def decode(self, frame: bytes) -> tuple[Any, ...] | None:
        """The frame's fields in `FRAME_STRUCTS` order, or None (counted) if it is malformed."""
        self.stats["frames"] += 1
        layout = self._layouts.get(frame[0]) if frame else None
        if layout is None or len(frame) != layout[0]:
            self.stats["malformed"] += 1
            return None
        return layout[1](frame)

    def normalize(self, fields: tuple[Any, ...]) -> Tick | None:
        """The tick for decoded fields, or None (counted) for a token it does not know."""
        known = self._symbols.get(fields[2]) or self._by_token.get(_token_text(fields[2]))
        if known is None:
            self.stats["unknown_token"] += 1
            return None
        try:
            return self._builders[fields[0]](known, fields)
        except OverflowError:  # a timestamp no calendar holds: a corrupt frame of the right size
            self.stats["malformed"] += 1
            return None

    def parse(self, frame: bytes) -> Tick | None:
        fields = self.decode(frame)
        return None if fields is None else self.normalize(fields)

    def _ltp(self, known: tuple[str, str], fields: tuple[Any, ...]) -> Tick:
        return Tick(
            token=known[0],
            symbol=known[1],
            ltpc=fields[5] / 100,
            received_at=_EPOCH + fields[4] * _MS,
            exchange=EXCHANGES.get(fields[1], ""),
            exchange_type=fields[1],
            source=self.source,
            sequence=fields[3],
        )

    def _quote(self, known: tuple[str, str], fields: tuple[Any, ...]) -> Tick:
        tick = self._ltp(known, fields)
        tick.open = fields[11] / 100
        tick.high = fields[12] / 100
        tick.low = fields[13] / 100
        tick.close = fields[14] / 100
        tick.volume = fields[8]
        tick.raw_data = {
            "last_traded_quantity": fields[6],
            "average_price": fields[7] / 100,
            "total_buy_quantity": fields[9],
            "total_sell_quantity": fields[10],
        }
        return tick

    def _snap(self, known: tuple[str, str], fields: tuple[Any, ...]) -> Tick:
        tick = self._quote(known, fields)
        tick.depth = _best_five(fields)
        tick.raw_data.update(
            last_traded_at=fields[15],
            open_interest=fields[16],
            open_interest_change=fields[17],
            upper_circuit=fields[58] / 100,
            lower_circuit=fields[59] / 100,
            week52_high=fields[60] / 100,
            week52_low=fields[61] / 100,
        )
        return tick


def _wire_token(token: str | int) -> bytes:
    return str(token).encode("ascii").ljust(TOKEN_BYTES, b"\0")


def pack_frame(mode: int, fields: tuple[Any, ...]) -> bytes:
    """The frame for `fields` in the order `FRAME_STRUCTS[mode]` reads them (peer, tests)."""
    return FRAME_STRUCTS[mode].pack(*fields)


def _token_text(wire: bytes) -> str:
    # Up to the first NUL, as smartapi-python reads it.
    return wire.split(b"\0", 1)[0].decode("latin-1")
