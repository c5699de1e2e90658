"""A slow live push client gets the latest ticks, conflated, and never delays a fast one."""

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
