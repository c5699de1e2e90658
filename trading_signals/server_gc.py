"""Garbage-collector settings for a server process (daphne or another ASGI server).

A full collection stops the server's one event loop while it walks every tracked object: at
1,000 `/ws` clients it took 180-370 ms with CPython's defaults, which was the whole p99 of
bench/ws (docs/live-push.md, "Benchmark"). What start-up loaded lives as long as the process,
so no collection need walk it; and collecting the youngest generation every 50,000
allocations instead of 700 stops promoting the fan-out's short-lived objects, whose
promotion made full collections come every few seconds.
"""

import gc

YOUNGEST_GENERATION_THRESHOLD = 50_000


def server_gc_tune() -> None:
    """Call once, after the application is loaded."""
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(YOUNGEST_GENERATION_THRESHOLD, gen1, gen2)
