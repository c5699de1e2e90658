"""Angel One frame parsing: ours against smartapi-python's, on the same frames, per mode.

    .venv/bin/python bench/parser/run.py [--frames 100000] [--rounds 5]

Prints frames/s for smartapi-python's `SmartWebSocketV2._parse_binary_data`, for our parser
(`FrameParser.decode`: frame -> fields, what theirs does) and for our whole step to a
normalized `Tick` (`FrameParser.parse`: adds symbol lookup, rupees, aware datetime), and the
ratios. Target: decode at least 5x theirs in every mode. Best of N rounds; GC stays on.
"""

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import index_tokens, setup_django

setup_django()

from marketdata.feed.angelone.frames import LTP, QUOTE, SNAP_QUOTE, FeedInstrument, FrameParser  # noqa: E402
from marketdata.feed.angelone.session import _smart_connect_class  # noqa: E402
from marketdata.tests.feed.angelone.angelone_peer import random_frame  # noqa: E402

INSTRUMENTS = [FeedInstrument(symbol, *tokens) for symbol, tokens in index_tokens().items()]
MODES = {"LTP": LTP, "QUOTE": QUOTE, "SNAP_QUOTE": SNAP_QUOTE}


def smartapi_parser() -> Callable[[bytes], object]:
    _smart_connect_class()  # imports SmartApi without its import-time network call
    from SmartApi.smartWebSocketV2 import SmartWebSocketV2

    return SmartWebSocketV2.__new__(SmartWebSocketV2)._parse_binary_data


def frames_for(mode: int, count: int) -> list[bytes]:
    rng = random.Random(mode)
    start_ms = 1_736_137_800_000
    return [
        random_frame(
            rng,
            mode=mode,
            token=INSTRUMENTS[n % 6].token,
            exchange_type=INSTRUMENTS[n % 6].exchange_type,
            sequence=n,
            at_ms=start_ms + n,
        )
        for n in range(count)
    ]


def rate(parse: Callable[[bytes], object], frames: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for frame in frames:
            parse(frame)
        best = min(best, time.perf_counter() - started)
    return len(frames) / best


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--frames", type=int, default=100_000)
    options.add_argument("--rounds", type=int, default=5)
    args = options.parse_args()
    theirs = smartapi_parser()
    ours = FrameParser(instruments=INSTRUMENTS)
    print(f"{args.frames} frames per mode, best of {args.rounds} rounds (frames/s)")
    header = ("mode", "smartapi-python", "ours: decode", "ratio", "ours: to Tick", "ratio")
    print("{:<11} {:>16} {:>14} {:>7} {:>14} {:>7}".format(*header))
    for name, mode in MODES.items():
        frames = frames_for(mode, args.frames)
        base = rate(theirs, frames, args.rounds)
        decode = rate(ours.decode, frames, args.rounds)
        parse = rate(ours.parse, frames, args.rounds)
        print(
            f"{name:<11} {base:>16,.0f} {decode:>14,.0f} {decode / base:>6.1f}x "
            f"{parse:>14,.0f} {parse / base:>6.1f}x"
        )


if __name__ == "__main__":
    main()
