"""Angel One SmartAPI WebSocket 2.0 binary frames -> normalized ticks.

Layout (little-endian), as smartapi-python's `SmartWebSocketV2._parse_binary_data` reads it:

    0 mode (u8) | 1 exchange type (u8) | 2 token (25 bytes, NUL-terminated ASCII)
    27 sequence (i64) | 35 exchange timestamp, ms since the epoch (i64) | 43 LTP, paise (i64)
    QUOTE adds: 51 last traded qty | 59 average price | 67 volume (i64) | 75 total buy qty |
      83 total sell qty (f64) | 91 open | 99 high | 107 low | 115 previous close (i64)
    SNAP_QUOTE adds: 123 last traded time, s | 131 open interest | 139 OI change (i64) |
      147 best five: 10 x (flag u16, qty i64, price i64, orders u16) |
      347 upper circuit | 355 lower circuit | 363 52-week high | 371 52-week low (i64)

Each mode has one precompiled `struct.Struct`, so a frame is decoded by a single unpack
call. A frame whose length is not exactly its mode's size, whose mode is unknown, or whose
exchange time is before 1970 or after 9999, is counted in `stats["malformed"]` and skipped:
one bad frame never ends the stream.

`FrameParser.parse` is on the feed's path for every frame, so it is written for speed (see
`bench/parser`): one function, no datetime (the tick keeps the exchange time as integer
milliseconds, `Tick.exchange_ms`, and makes `received_at` when first read), one dict lookup
for the instrument, keyed by the frame's own bytes.
"""

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from marketdata.market_calendar import EXCHANGE_TYPES
from marketdata.ticks import EMPTY_RAW_DATA, EXCHANGE_MS_MAX, Tick

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

# What `parse` reads: the same layouts, with the mode, the exchange type and the token read
# together as one 27-byte key, so that one dict lookup checks the mode and finds the
# instrument and its exchange; and the exchange time unsigned, so that one comparison
# rejects times before 1970 (read as 2**63 and more) and after 9999.
_KEYED_STRUCTS = {
    mode: struct.Struct("<27sqQ" + layout.format[len("<BB25sqq") :])
    for mode, layout in FRAME_STRUCTS.items()
}
# The best-five flags, in a keyed SNAP_QUOTE tuple, as Angel One sends them: five bids first.
_FLAGS = slice(16, 56, 4)
_BIDS_THEN_OFFERS = (1,) * 5 + (0,) * 5


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


# What a known key (mode, exchange type, token) stands for: a tick's token, symbol,
# exchange, exchange type and source.
_Known = tuple[str, str, str, int, str]


class FrameParser:
    """Decodes frames and normalizes them into ticks for the instruments it knows.

    `decode` is the parser proper (frame -> fields, what smartapi-python's function does).
    `parse`, the feed's path, goes from the frame to a normalized `Tick` (token -> symbol and
    exchange, paise -> rupees) in one step, reading the layouts of `_KEYED_STRUCTS`. It never
    builds a datetime: the tick keeps the exchange time as milliseconds (`Tick.exchange_ms`)
    and makes `received_at` when it is first read.
    """

    def __init__(self, *, instruments: Iterable[Subscribable], source: str = "angelone") -> None:
        self.source = source
        self.stats = {"frames": 0, "malformed": 0, "unknown_token": 0}
        instruments = list(instruments)
        self._by_token = {str(item.token): (str(item.token), item.symbol) for item in instruments}
        known: dict[bytes, _Known] = {
            bytes((item.exchange_type,)) + _wire_token(item.token): (
                str(item.token),
                item.symbol,
                EXCHANGES.get(item.exchange_type, ""),
                item.exchange_type,
                source,
            )
            for item in instruments
            if 0 <= item.exchange_type <= 255  # what a frame's u8 can carry
        }
        # Each mode's frames have their own size, and a frame must be exactly that size. Per
        # size: the decoder, the mode, and the known keys with that mode's byte in front.
        self._by_size = {
            layout.size: (
                layout.unpack,
                mode,
                {bytes((mode,)) + key: value for key, value in known.items()},
            )
            for mode, layout in _KEYED_STRUCTS.items()
        }
        self._decoders = {
            mode: (layout.size, layout.unpack_from) for mode, layout in FRAME_STRUCTS.items()
        }

    def decode(self, frame: bytes) -> tuple[Any, ...] | None:
        """The frame's fields in `FRAME_STRUCTS` order, or None (counted) if it is malformed."""
        self.stats["frames"] += 1
        layout = self._decoders.get(frame[0]) if frame else None
        if layout is None or len(frame) != layout[0]:
            self.stats["malformed"] += 1
            return None
        return layout[1](frame)

    def parse(self, frame: bytes) -> Tick | None:
        """The tick for a frame, or None (counted) if the frame is malformed or its token is
        not subscribed."""
        # One function on purpose: at about half a microsecond an LTP frame, each call saved
        # (decode, the builder of each mode, Tick.from_exchange_ms) is a tenth of the step.
        stats = self.stats
        stats["frames"] += 1
        try:
            unpack, mode, known_keys = self._by_size[len(frame)]
        except KeyError:
            stats["malformed"] += 1
            return None
        fields = unpack(frame)
        known: _Known | None
        try:
            known = known_keys[fields[0]]
        except KeyError:
            known = self._not_known(len(frame), fields[0])
            if known is None:
                return None
        ms = fields[2]
        if ms > EXCHANGE_MS_MAX:  # a corrupt frame of the right size
            stats["malformed"] += 1
            return None
        # Tick.from_exchange_ms, inlined (so writing its private `_exchange_ms`). The fields
        # are those of _KEYED_STRUCTS: 0 key, 1 sequence, 2 time, 3 LTP; QUOTE: 4 last traded
        # qty, 5 average price, 6 volume, 7/8 total buy/sell qty, 9-12 open, high, low,
        # close; SNAP_QUOTE: 13 last traded time, 14/15 open interest and its change, 16-55
        # best five, 56-59 circuits and 52-week range.
        tick = _new_tick(Tick)
        tick.token, tick.symbol, tick.exchange, tick.exchange_type, tick.source = known
        tick.ltpc = fields[3] / 100
        tick.sequence = fields[1]
        tick._exchange_ms = ms
        if mode == LTP:
            tick.raw_data = EMPTY_RAW_DATA
            return tick
        tick.open = fields[9] / 100
        tick.high = fields[10] / 100
        tick.low = fields[11] / 100
        tick.close = fields[12] / 100
        tick.volume = fields[6]
        if mode == QUOTE:
            tick.raw_data = {
                "last_traded_quantity": fields[4],
                "average_price": fields[5] / 100,
                "total_buy_quantity": fields[7],
                "total_sell_quantity": fields[8],
            }
            return tick
        tick.raw_data = {
            "last_traded_quantity": fields[4],
            "average_price": fields[5] / 100,
            "total_buy_quantity": fields[7],
            "total_sell_quantity": fields[8],
            "last_traded_at": fields[13],
            "open_interest": fields[14],
            "open_interest_change": fields[15],
            "upper_circuit": fields[56] / 100,
            "lower_circuit": fields[57] / 100,
            "week52_high": fields[58] / 100,
            "week52_low": fields[59] / 100,
        }
        tick.depth = _best_five(fields)
        return tick

    def _not_known(self, size: int, key: bytes) -> _Known | None:
        """For a key not known as it is: a subscribed token under another exchange type, or
        followed by junk after its NUL (smartapi-python reads a token up to its NUL). None,
        counted, for a frame whose mode does not match its size, or a token not subscribed."""
        if FRAME_SIZES.get(key[0]) != size:
            self.stats["malformed"] += 1
            return None
        named = self._by_token.get(_token_text(key[2:]))
        if named is None:
            self.stats["unknown_token"] += 1
            return None
        return (named[0], named[1], EXCHANGES.get(key[1], ""), key[1], self.source)


_new_tick = object.__new__


def _best_five(f: tuple[Any, ...]) -> dict[str, list[dict[str, Any]]]:
    # Flag 1 is a bid and 0 an offer: smartapi-python reaches the same split by filing
    # flag 0 under "buy" and then swapping the two names. Written out level by level: a
    # loop over the ten costs a third more, and this is most of SNAP_QUOTE's time.
    l0 = {"price": f[18] / 100, "quantity": f[17], "orders": f[19]}
    l1 = {"price": f[22] / 100, "quantity": f[21], "orders": f[23]}
    l2 = {"price": f[26] / 100, "quantity": f[25], "orders": f[27]}
    l3 = {"price": f[30] / 100, "quantity": f[29], "orders": f[31]}
    l4 = {"price": f[34] / 100, "quantity": f[33], "orders": f[35]}
    l5 = {"price": f[38] / 100, "quantity": f[37], "orders": f[39]}
    l6 = {"price": f[42] / 100, "quantity": f[41], "orders": f[43]}
    l7 = {"price": f[46] / 100, "quantity": f[45], "orders": f[47]}
    l8 = {"price": f[50] / 100, "quantity": f[49], "orders": f[51]}
    l9 = {"price": f[54] / 100, "quantity": f[53], "orders": f[55]}
    flags = f[_FLAGS]
    if flags == _BIDS_THEN_OFFERS:
        return {"buy": [l0, l1, l2, l3, l4], "sell": [l5, l6, l7, l8, l9]}
    levels = (l0, l1, l2, l3, l4, l5, l6, l7, l8, l9)
    return {
        "buy": [level for flag, level in zip(flags, levels, strict=True) if flag],
        "sell": [level for flag, level in zip(flags, levels, strict=True) if not flag],
    }


def _wire_token(token: str | int) -> bytes:
    return str(token).encode("ascii").ljust(TOKEN_BYTES, b"\0")


def pack_frame(mode: int, fields: tuple[Any, ...]) -> bytes:
    """The frame for `fields` in the order `FRAME_STRUCTS[mode]` reads them (peer, tests)."""
    return FRAME_STRUCTS[mode].pack(*fields)


def _token_text(wire: bytes) -> str:
    # Up to the first NUL, as smartapi-python reads it.
    return wire.split(b"\0", 1)[0].decode("latin-1")
