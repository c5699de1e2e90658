"""Angel One's binary frames (`feed/angelone/frames.py`): decoding each mode as smartapi-python
does, normalized ticks, and malformed frames."""

import random
import struct
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from marketdata.feed.angelone.frames import (
    FRAME_SIZES,
    FRAME_STRUCTS,
    LTP,
    QUOTE,
    SNAP_QUOTE,
    FeedInstrument,
    FrameParser,
    pack_frame,
)
from marketdata.feed.angelone.session import _smart_connect_class
from marketdata.tests.feed.angelone.angelone_peer import garbage_frames, random_frame
from marketdata.ticks import EXCHANGE_MS_MAX, Tick

INSTRUMENTS = [
    FeedInstrument("NIFTY", "99926000", 1),
    FeedInstrument("BANKNIFTY", "99926009", 1),
    FeedInstrument("SENSEX", "99919000", 3),
    FeedInstrument("BANKEX", "99919012", 3),
]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def smartapi_parse():
    """smartapi-python's own parser, imported without its import-time network call."""
    _smart_connect_class()
    from SmartApi.smartWebSocketV2 import SmartWebSocketV2

    # __new__: its constructor creates log folders and needs real tokens; parsing needs neither.
    return SmartWebSocketV2.__new__(SmartWebSocketV2)._parse_binary_data


@pytest.fixture
def parser() -> FrameParser:
    return FrameParser(instruments=INSTRUMENTS)


def generated_frames(mode: int, count: int) -> list[bytes]:
    """Plausible frames, then frames whose every number is random over its type's range."""
    rng = random.Random(mode)
    frames = []
    for sequence in range(count):
        item = rng.choice(INSTRUMENTS)
        at_ms = rng.randint(1_600_000_000_000, 1_900_000_000_000)
        frames.append(
            random_frame(
                rng,
                mode=mode,
                token=item.token,
                exchange_type=item.exchange_type,
                sequence=sequence,
                at_ms=at_ms,
            )
        )
        frames.append(wild_frame(rng, mode, item, at_ms))
    return frames


def wild_frame(rng: random.Random, mode: int, item: FeedInstrument, at_ms: int) -> bytes:
    fields: list[Any] = [mode, item.exchange_type, item.token.encode(), 0, at_ms]
    for code in FRAME_STRUCTS[mode].format[len("<BB25sqq") :]:
        if code == "q":
            fields.append(rng.randint(-(2**63), 2**63 - 1))
        elif code == "H":
            fields.append(rng.randint(0, 2**16 - 1))
        else:
            fields.append(rng.uniform(-1e12, 1e12))
    fields[3] = rng.randint(-(2**63), 2**63 - 1)
    return pack_frame(mode, tuple(fields))


def expected_tick_fields(theirs: dict[str, Any]) -> dict[str, Any]:
    """smartapi-python's fields in our units and names."""
    expected = {
        "token": theirs["token"],
        "exchange_type": theirs["exchange_type"],
        "sequence": theirs["sequence_number"],
        "received_at": EPOCH + timedelta(milliseconds=theirs["exchange_timestamp"]),
        "ltpc": theirs["last_traded_price"] / 100,
    }
    if theirs["subscription_mode"] in (QUOTE, SNAP_QUOTE):
        expected |= {
            "open": theirs["open_price_of_the_day"] / 100,
            "high": theirs["high_price_of_the_day"] / 100,
            "low": theirs["low_price_of_the_day"] / 100,
            "close": theirs["closed_price"] / 100,
            "volume": theirs["volume_trade_for_the_day"],
            "last_traded_quantity": theirs["last_traded_quantity"],
            "average_price": theirs["average_traded_price"] / 100,
            "total_buy_quantity": theirs["total_buy_quantity"],
            "total_sell_quantity": theirs["total_sell_quantity"],
        }
    if theirs["subscription_mode"] == SNAP_QUOTE:
        expected |= {
            "last_traded_at": theirs["last_traded_timestamp"],
            "open_interest": theirs["open_interest"],
            "open_interest_change": theirs["open_interest_change_percentage"],
            "upper_circuit": theirs["upper_circuit_limit"] / 100,
            "lower_circuit": theirs["lower_circuit_limit"] / 100,
            "week52_high": theirs["52_week_high_price"] / 100,
            "week52_low": theirs["52_week_low_price"] / 100,
            "buy": [_level(level) for level in theirs["best_5_buy_data"]],
            "sell": [_level(level) for level in theirs["best_5_sell_data"]],
        }
    return expected


def _level(level: dict[str, int]) -> dict[str, Any]:
    return {
        "price": level["price"] / 100,
        "quantity": level["quantity"],
        "orders": level["no of orders"],
    }


def actual_tick_fields(tick: Any, expected: dict[str, Any]) -> dict[str, Any]:
    flat = {name: getattr(tick, name) for name in expected if hasattr(tick, name)}
    flat |= {name: tick.raw_data[name] for name in expected if name in tick.raw_data}
    flat |= {side: (tick.depth or {})[side] for side in ("buy", "sell") if side in expected}
    return flat


@pytest.mark.parametrize("mode", [LTP, QUOTE, SNAP_QUOTE], ids=["ltp", "quote", "snap_quote"])
def test_every_field_matches_smartapi_python(mode, parser, smartapi_parse):
    frames = generated_frames(mode, 400)

    for frame in frames:
        tick = parser.parse(frame)
        expected = expected_tick_fields(smartapi_parse(frame))
        assert actual_tick_fields(tick, expected) == expected

    assert parser.stats == {"frames": len(frames), "malformed": 0, "unknown_token": 0}


def test_prices_are_rupees_and_times_are_aware_utc(parser):
    frame = pack_frame(LTP, (LTP, 1, b"99926000", 42, 1_736_137_800_123, 2_350_075))

    tick = parser.parse(frame)

    assert (tick.symbol, tick.exchange, tick.ltpc, tick.sequence) == ("NIFTY", "NSE", 23500.75, 42)
    assert tick.received_at == datetime(2025, 1, 6, 4, 30, 0, 123000, tzinfo=UTC)


def test_bse_frames_parse_like_nse_ones(parser):
    frame = pack_frame(LTP, (LTP, 3, b"99919000", 1, 1_736_137_800_000, 7_812_345))

    tick = parser.parse(frame)

    assert (tick.symbol, tick.exchange, tick.exchange_type, tick.ltpc) == (
        "SENSEX",
        "BSE",
        3,
        78123.45,
    )


def test_snap_quote_depth_is_split_by_side_flag(parser):
    levels = (1, 10, 2_350_000, 3) * 5 + (0, 20, 2_350_100, 4) * 5
    fields = (SNAP_QUOTE, 1, b"99926000", 1, 1_736_137_800_000, 2_350_050)
    frame = pack_frame(SNAP_QUOTE, fields + (0,) * 9 + (0, 0, 0) + levels + (0,) * 4)

    depth = parser.parse(frame).depth

    assert depth["buy"] == [{"price": 23500.0, "quantity": 10, "orders": 3}] * 5
    assert depth["sell"] == [{"price": 23501.0, "quantity": 20, "orders": 4}] * 5


def test_malformed_frames_are_counted_and_skipped(parser):
    frames = list(garbage_frames(random.Random(1), 40))
    for mode, size in FRAME_SIZES.items():
        good = random_frame(
            random.Random(), mode=mode, token="99926000", exchange_type=1, sequence=1, at_ms=1
        )
        frames += [good[:length] for length in range(1, size)]

    assert [parser.parse(frame) for frame in frames] == [None] * len(frames)
    assert parser.stats["malformed"] == len(frames)


def test_smartapi_python_raises_on_a_truncated_frame_where_we_skip_it(parser, smartapi_parse):
    truncated = random_frame(
        random.Random(), mode=QUOTE, token="99926000", exchange_type=1, sequence=1, at_ms=1
    )[:100]

    with pytest.raises(struct.error):
        smartapi_parse(truncated)
    assert parser.parse(truncated) is None


def test_frame_with_impossible_timestamp_is_counted_not_raised(parser):
    frame = pack_frame(LTP, (LTP, 1, b"99926000", 1, 2**63 - 1, 100))

    assert parser.parse(frame) is None
    assert parser.stats["malformed"] == 1


def test_frames_for_tokens_not_subscribed_are_counted_and_skipped(parser):
    frame = pack_frame(LTP, (LTP, 1, b"2885", 1, 1_736_137_800_000, 100))

    assert parser.parse(frame) is None
    assert parser.stats["unknown_token"] == 1


def test_token_is_read_up_to_its_terminating_nul(parser):
    frame = pack_frame(LTP, (LTP, 1, b"99926009\0junk", 1, 1_736_137_800_000, 100))

    assert parser.parse(frame).symbol == "BANKNIFTY"


# --- the ticks themselves: every value as before, the exchange time kept as milliseconds ---


def keyword_tick(theirs: dict[str, Any], symbol: str) -> Tick:
    """The tick for smartapi-python's fields, built with keywords as any other source does."""
    fields = expected_tick_fields(theirs)
    mode = theirs["subscription_mode"]
    extra = {}
    if mode in (QUOTE, SNAP_QUOTE):
        extra = {name: fields[name] for name in ("open", "high", "low", "close", "volume")}
        raw = ["last_traded_quantity", "average_price", "total_buy_quantity"]
        raw += ["total_sell_quantity"]
        if mode == SNAP_QUOTE:
            raw += ["last_traded_at", "open_interest", "open_interest_change", "upper_circuit"]
            raw += ["lower_circuit", "week52_high", "week52_low"]
            extra["depth"] = {"buy": fields["buy"], "sell": fields["sell"]}
        extra["raw_data"] = {name: fields[name] for name in raw}
    return Tick(
        token=fields["token"],
        symbol=symbol,
        ltpc=fields["ltpc"],
        received_at=fields["received_at"],
        exchange={1: "NSE", 3: "BSE"}[fields["exchange_type"]],
        exchange_type=fields["exchange_type"],
        sequence=fields["sequence"],
        **extra,
    )


@pytest.mark.parametrize("mode", [LTP, QUOTE, SNAP_QUOTE], ids=["ltp", "quote", "snap_quote"])
def test_parsed_ticks_equal_ticks_built_with_keywords(mode, parser, smartapi_parse):
    symbols = {item.token: item.symbol for item in INSTRUMENTS}

    for frame in generated_frames(mode, 100):
        theirs = smartapi_parse(frame)
        # Every field compared, the defaults (ch, chp, data_quality, is_realtime...) too.
        assert parser.parse(frame) == keyword_tick(theirs, symbols[theirs["token"]])


@pytest.mark.parametrize(
    "ms", [0, 1, 1_736_137_800_123, 1_736_137_800_999, EXCHANGE_MS_MAX], ids=str
)
def test_exchange_time_is_the_frames_timestamp_to_the_millisecond_in_utc(parser, ms):
    tick = parser.parse(pack_frame(LTP, (LTP, 1, b"99926000", 1, ms, 100)))

    assert tick.exchange_ms == ms
    assert tick.received_at == EPOCH + timedelta(milliseconds=ms)
    assert tick.received_at.tzinfo is UTC
    assert tick.received_at is tick.received_at  # made once


@pytest.mark.parametrize("ms", [-1, -(2**63), EXCHANGE_MS_MAX + 1], ids=str)
def test_exchange_times_before_1970_or_after_9999_are_malformed(parser, ms):
    assert parser.parse(pack_frame(LTP, (LTP, 1, b"99926000", 1, ms, 100))) is None
    assert parser.stats["malformed"] == 1


def test_assigning_received_at_replaces_the_exchange_time(parser):
    tick = parser.parse(pack_frame(LTP, (LTP, 1, b"99926000", 1, 1_736_137_800_123, 100)))
    ist = timezone(timedelta(hours=5, minutes=30))
    moment = datetime(2025, 1, 6, 10, 0, 0, 456_789, tzinfo=ist)

    tick.received_at = moment

    assert tick.received_at is moment
    assert tick.exchange_ms == 1_736_137_800_456


def test_parsed_ticks_work_with_the_dataclass_helpers(parser):
    tick = parser.parse(pack_frame(LTP, (LTP, 1, b"99926000", 7, 1_736_137_800_123, 100)))

    record = asdict(tick)
    copy = replace(tick, ltpc=2.0)

    assert record["received_at"] == datetime(2025, 1, 6, 4, 30, 0, 123_000, tzinfo=UTC)
    assert (record["sequence"], record["raw_data"]) == (7, {})
    assert (copy.ltpc, copy.received_at, copy.sequence) == (2.0, tick.received_at, 7)


def test_ltp_ticks_share_one_read_only_empty_raw_data(parser):
    first, second = (
        parser.parse(pack_frame(LTP, (LTP, 1, b"99926000", n, 1_736_137_800_000, 100)))
        for n in (1, 2)
    )

    assert first.raw_data == {} and first.raw_data is second.raw_data
    with pytest.raises(TypeError, match="assign a new dict"):
        first.raw_data["note"] = "x"
    first.raw_data = {"note": "x"}  # what every source does
    assert (first.raw_data, second.raw_data) == ({"note": "x"}, {})


@pytest.mark.parametrize(("mode", "size_of"), [(QUOTE, LTP), (LTP, QUOTE), (SNAP_QUOTE, QUOTE)])
def test_a_frame_whose_mode_does_not_match_its_size_is_malformed(parser, mode, size_of):
    frame = (
        bytes((mode,))
        + random_frame(
            random.Random(1), mode=size_of, token="99926000", exchange_type=1, sequence=1, at_ms=1
        )[1:]
    )

    assert parser.parse(frame) is None
    assert parser.stats == {"frames": 1, "malformed": 1, "unknown_token": 0}


def test_a_subscribed_token_under_another_exchange_type_keeps_the_frames_exchange(parser):
    frame = pack_frame(LTP, (LTP, 3, b"99926000", 1, 1_736_137_800_000, 100))

    tick = parser.parse(frame)

    assert (tick.symbol, tick.exchange, tick.exchange_type) == ("NIFTY", "BSE", 3)
