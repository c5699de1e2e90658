"""A slow live push client gets the latest ticks, conflated, and never delays a fast one; a
client that stops reading costs the server a bounded amount of memory."""

import re
from pathlib import Path

import pytest

from marketdata.live import publish
from marketdata.tests.live.helpers import (
    access_token,
    open_slow_ws,
    open_ws,
    recv_json,
    recv_until,
    subscribe,
    tick,
)

TICKS = 1000  # about 430 kB: several times what the buffers between daphne and the client hold


def test_slow_client_does_not_delay_a_fast_one_and_gets_the_latest_tick(live_url, trader):
    token = access_token(trader)
    # The fast client's reader thread never pauses (no max_queue), whatever the test does.
    with open_slow_ws(live_url, token) as slow, open_ws(live_url, token, max_queue=None) as fast:
        subscribe(slow, "NIFTY")
        subscribe(fast, "NIFTY")

        # The fast client reads each batch as it comes (promptly, whatever the machine's load);
        # the slow one reads nothing meanwhile. The fast one gets every tick, in order.
        received = []
        for start in range(0, TICKS, 10):
            publish.ticks_publish(
                ticks=[tick("NIFTY", 20000.0 + i) for i in range(start, start + 10)]
            )
            received += [recv_json(fast, timeout=10)["seq"] for _ in range(10)]
        assert received == list(range(received[0], received[0] + TICKS))

        caught_up = recv_until(slow, lambda m: m["tick"]["ltpc"] == 20000.0 + TICKS - 1, 30)
        assert len(caught_up) < TICKS / 2  # older unsent ticks were replaced by newer ones
        seqs = [message["seq"] for message in caught_up]
        assert seqs == sorted(seqs)


BURSTS = 200
TICKS_PER_BURST = 100  # 20,000 ticks in all, about 8.6 MB of messages for the stopped client


def _resident_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)[1]) * 1024  # type: ignore[index]


def _publish_and_read(fast, bursts: int, first_price: float) -> list[int]:
    """Publish `bursts` x TICKS_PER_BURST NIFTY ticks; the fast client reads each burst."""
    seqs = []
    for burst in range(bursts):
        base = first_price + burst * TICKS_PER_BURST
        publish.ticks_publish(ticks=[tick("NIFTY", base + i) for i in range(TICKS_PER_BURST)])
        seqs += [recv_json(fast, timeout=10)["seq"] for _ in range(TICKS_PER_BURST)]
    return seqs


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads the server's RSS in /proc")
def test_a_client_that_stops_reading_costs_bounded_memory_and_others_get_every_tick(
    daphne_server, trader
):
    token = access_token(trader)
    with (
        open_slow_ws(daphne_server.url, token) as stopped,
        open_ws(daphne_server.url, token, max_queue=None) as fast,
    ):
        subscribe(stopped, "NIFTY")  # ...and never reads again
        subscribe(fast, "NIFTY")
        # Fill what the stopped client may hold (kernel buffers, the send buffer, its mailbox).
        _publish_and_read(fast, 20, 0.0)
        before = _resident_bytes(daphne_server.pid)

        seqs = _publish_and_read(fast, BURSTS, 1_000_000.0)
        grown = _resident_bytes(daphne_server.pid) - before

    assert seqs == list(range(seqs[0], seqs[0] + BURSTS * TICKS_PER_BURST))
    pushed_bytes = BURSTS * TICKS_PER_BURST * 400  # a NIFTY tick message is over 400 bytes
    # Had the stopped client's messages piled up, the server would hold all of them.
    assert grown < pushed_bytes / 4
