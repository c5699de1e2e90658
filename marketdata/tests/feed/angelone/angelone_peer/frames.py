"""The peer's binary frames: well-formed ones with plausible random values, and garbage."""

import random
from collections.abc import Iterator

from marketdata.feed.angelone.frames import FRAME_SIZES, LTP, QUOTE, TOKEN_BYTES, pack_frame

# Plausible index levels in paise, so generated frames look like the real feed.
LEVELS = {
    "99926000": 2_245_000,
    "99926009": 4_810_000,
    "99926037": 2_160_000,
    "99926074": 1_150_000,
    "99919000": 7_390_000,
    "99919012": 5_420_000,
}


def random_frame(
    rng: random.Random, *, mode: int, token: str, exchange_type: int, sequence: int, at_ms: int
) -> bytes:
    """A well-formed frame with plausible random values (shared by tests and bench)."""
    level = LEVELS.get(token, 100_000)
    ltp = level + rng.randint(-level // 50, level // 50)
    head = (mode, exchange_type, token.encode().ljust(TOKEN_BYTES, b"\0"), sequence, at_ms, ltp)
    if mode == LTP:
        return pack_frame(mode, head)
    quote = (
        rng.randint(0, 5_000),
        ltp + rng.randint(-500, 500),
        rng.randint(0, 10**9),
        float(rng.randint(0, 10**7)),
        float(rng.randint(0, 10**7)),
        ltp - rng.randint(0, 9_000),
        ltp + rng.randint(0, 9_000),
        ltp - rng.randint(9_000, 20_000),
        ltp - rng.randint(-20_000, 20_000),
    )
    if mode == QUOTE:
        return pack_frame(mode, head + quote)
    levels: tuple[int, ...] = ()
    for index in range(10):
        levels += (1 if index < 5 else 0, rng.randint(0, 10**5), ltp + rng.randint(-99, 99), 7)
    snap = (at_ms // 1000, rng.randint(0, 10**8), rng.randint(-(10**4), 10**4))
    limits = (ltp * 11 // 10, ltp * 9 // 10, ltp * 12 // 10, ltp * 8 // 10)
    return pack_frame(mode, head + quote + snap + levels + limits)


def garbage_frames(rng: random.Random, count: int) -> Iterator[bytes]:
    """Truncated, oversized and unknown-mode frames, in turn."""
    good = random_frame(rng, mode=QUOTE, token="99926000", exchange_type=1, sequence=1, at_ms=1)
    for index in range(count):
        kind = index % 4
        if kind == 0:
            yield good[: rng.randint(1, FRAME_SIZES[QUOTE] - 1)]
        elif kind == 1:
            yield good + bytes(rng.randint(1, 64))
        elif kind == 2:
            yield bytes([9]) + good[1:]
        else:
            yield b""
