"""Angel One frame parsing: ours against smartapi-python's, on the same frames, per mode.

    .venv/bin/python bench/parser/run.py [--frames 100000] [--rounds 9]

Prints frames/s for smartapi-python's `SmartWebSocketV2._parse_binary_data`, for our parser
(`FrameParser.decode`: frame -> fields, what theirs does) and for our whole step to a
normalized `Tick` (`FrameParser.parse`: adds the instrument lookup, rupees, the tick), and
the ratios. Target: frame -> `Tick` at least 5x theirs (frame -> dict) in every mode.

Each figure is the best of N rounds, in the CPU time of this thread (time spent waiting for
a core shared with other work is not counted), with the three taking turns within each
round so that the load of the moment weighs on all of them. GC stays on.
"""

import argparse
import os
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
TARGET = 5.0  # frame -> Tick, times smartapi-python's frame -> dict


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


def rates(
    parsers: list[Callable[[bytes], object]], frames: list[bytes], rounds: int
) -> list[float]:
    """Frames/s of each parser, best of `rounds`. The parsers take turns within each round,
    so a burst of load from elsewhere on the machine weighs on all of them alike and the
    ratios hold even when the absolute figures move."""
    best = [float("inf")] * len(parsers)
    for _ in range(rounds):
        for index, parse in enumerate(parsers):
            started = time.thread_time()
            for frame in frames:
                parse(frame)
            best[index] = min(best[index], time.thread_time() - started)
    return [len(frames) / seconds for seconds in best]


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--frames", type=int, default=100_000)
    options.add_argument("--rounds", type=int, default=9)
    args = options.parse_args()
    theirs = smartapi_parser()
    ours = FrameParser(instruments=INSTRUMENTS)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} (1 min) at the start")
    print(f"{args.frames} frames per mode, best of {args.rounds} rounds (frames/s of CPU time)")
    header = ("mode", "smartapi-python", "ours: decode", "ratio", "ours: to Tick", "ratio")
    print("{:<11} {:>16} {:>14} {:>7} {:>14} {:>7}".format(*header))
    worst = float("inf")
    for name, mode in MODES.items():
        frames = frames_for(mode, args.frames)
        base, decode, parse = rates([theirs, ours.decode, ours.parse], frames, args.rounds)
        worst = min(worst, parse / base)
        print(
            f"{name:<11} {base:>16,.0f} {decode:>14,.0f} {decode / base:>6.1f}x "
            f"{parse:>14,.0f} {parse / base:>6.1f}x"
        )
    verdict = "meets" if worst >= TARGET else "MISSES"
    print(f"frame -> Tick {verdict} the >= {TARGET:g}x target in every mode (worst {worst:.1f}x)")


if __name__ == "__main__":
    main()
