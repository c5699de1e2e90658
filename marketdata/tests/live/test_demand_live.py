"""Demand end to end: `/ws` clients of real server processes decide what a real feed process
streams from the local Angel One peer, through real Redis.

- a master option subscribed from `/ws` reaches the peer as a subscribe within a second, and
  its ticks reach the client; leaving unsubscribes it after the grace; a reconnect of the
  feed resubscribes the current set;
- two server processes with one feed count holds together;
- past the capacity (lowered to 7 here: the six indices and one option) the client gets a
  `subscription_limit` error and /health's `feed_demand` line says so.

The grace is 1 s here (LIVE_DEMAND_GRACE_SECONDS). The measured delays are printed (`-s`).
"""

import json
import signal
import time
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings

from marketdata.tests.feed.feedprocess import feed_finish
from marketdata.tests.live.demand_helpers import (
    INDEX_TOKENS,
    feed,
    feed_ready,
    option_create,
    peer_request,
    seconds_until,
    server,
    wait_for,
)
from marketdata.tests.live.helpers import access_token, open_ws, recv_json, recv_until, send_json

CALL, CALL_TOKEN = "NIFTY25DEC24000CE", "43001"
PUT, PUT_TOKEN = "NIFTY25DEC24000PE", "43002"
GRACE = 1.0


@pytest.fixture
def world(live_db, angelone_peer, sqlite_file, tmp_path) -> Iterator[dict]:
    """Two options in the master, today open all day, no demand left by other tests, and the
    peer sending a frame per token every 100 ms."""
    if settings.USES_MONGODB or not settings.REDIS_URL:
        pytest.skip("needs a SQL database and Redis")
    option_create(CALL, CALL_TOKEN)
    option_create(PUT, PUT_TOKEN)
    with feed_ready(angelone_peer, sqlite_file=sqlite_file, log_dir=tmp_path) as world:
        yield world


def feed_stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    status, log = feed_finish(process)
    assert status == 0, log


def subscribe(ws, *symbols: str) -> dict:
    send_json(ws, {"action": "subscribe", "symbols": list(symbols)})
    return recv_json(ws)


def is_tick_of(symbol: str):
    return lambda message: message["type"] == "tick" and message["tick"]["symbol"] == symbol


def test_a_master_option_streams_on_demand_and_stops_after_the_grace(world, trader):
    peer = world["peer"]
    with server(
        sqlite_file=world["sqlite_file"],
        log_dir=world["log_dir"],
        LIVE_DEMAND_GRACE_SECONDS=GRACE,
    ) as (ws_url, _):
        process = feed(**world, LIVE_DEMAND_GRACE_SECONDS=GRACE)
        with open_ws(ws_url, access_token(trader), max_queue=None) as ws:
            asked = time.monotonic()
            snapshot = subscribe(ws, CALL)
            to_peer = seconds_until(
                lambda: peer_request(peer, token=CALL_TOKEN, action=1),
                since=asked,
                timeout=5,
                what="the peer's subscribe",
            )
            recv_until(ws, is_tick_of(CALL), timeout=10)
            to_client = time.monotonic() - asked

            # The feed loses its connection: it resubscribes what is in demand now.
            before = len(peer.subscribe_messages)
            peer.drop_connections()
            wait_for(
                lambda: (
                    peer_request(peer, token=CALL_TOKEN, action=1, since=before)
                    and peer.subscribed_tokens() == INDEX_TOKENS | {CALL_TOKEN}
                ),
                timeout=10,
                what="the resubscription",
            )
            recv_until(ws, is_tick_of(CALL), timeout=10)
        left = time.monotonic()
        after_leaving = seconds_until(
            lambda: peer_request(peer, token=CALL_TOKEN, action=0),
            since=left,
            timeout=5,
            what="the peer's unsubscribe",
        )
        streamed_after = peer.subscribed_tokens()
        feed_stop(process)

    print(
        f"\nsubscribe -> peer subscribe {to_peer * 1000:.0f} ms; -> first tick at the client "
        f"{to_client * 1000:.0f} ms; leave -> peer unsubscribe {after_leaving * 1000:.0f} ms "
        f"(grace {GRACE:g} s)"
    )
    assert snapshot == {"type": "snapshot", "symbols": [CALL], "ticks": []}
    assert to_peer < 1.0
    assert GRACE <= after_leaving < GRACE + 1.0
    assert streamed_after == INDEX_TOKENS


def test_two_server_processes_with_one_feed_count_demand_together(world, trader):
    peer = world["peer"]
    token = access_token(trader)
    common = {"sqlite_file": world["sqlite_file"], "LIVE_DEMAND_GRACE_SECONDS": GRACE}
    with (
        server(log_dir=world["log_dir"], name="first", **common) as (first_url, _),
        server(log_dir=world["log_dir"], name="second", **common) as (second_url, _),
    ):
        process = feed(**world, LIVE_DEMAND_GRACE_SECONDS=GRACE)
        # Unbounded client queues: a full one stops reading, and then closing waits 10 s.
        with (
            open_ws(first_url, token, max_queue=None) as first,
            open_ws(second_url, token, max_queue=None) as second,
        ):
            subscribe(first, CALL)
            subscribe(second, CALL, PUT)
            wait_for(
                lambda: {CALL_TOKEN, PUT_TOKEN} <= peer.subscribed_tokens(),
                timeout=5,
                what="both options subscribed",
            )
            send_json(first, {"action": "unsubscribe", "symbols": [CALL]})
            send_json(second, {"action": "unsubscribe", "symbols": [PUT]})
            time.sleep(GRACE + 1.0)

            # The second process still holds the call; the put nobody holds is gone.
            assert not peer_request(peer, token=CALL_TOKEN, action=0)
            assert peer_request(peer, token=PUT_TOKEN, action=0)
            recv_until(second, is_tick_of(CALL), timeout=5)
        left = time.monotonic()
        after_leaving = seconds_until(
            lambda: peer_request(peer, token=CALL_TOKEN, action=0),
            since=left,
            timeout=5,
            what="the call's unsubscribe",
        )
        feed_stop(process)

    subscribes = [
        m for m in peer.subscribe_messages if m["action"] == 1 and peer_request_in(m, CALL_TOKEN)
    ]
    assert len(subscribes) == 1  # the second hold changed nothing at the broker
    assert GRACE <= after_leaving < GRACE + 1.0


def peer_request_in(message: dict, token: str) -> bool:
    return any(token in group["tokens"] for group in message["params"]["tokenList"])


def test_past_the_capacity_the_client_gets_subscription_limit_and_health_says_so(world, trader):
    peer = world["peer"]
    capacity = {"LIVE_DEMAND_MAX_INSTRUMENTS": 7}  # the six indices and one option
    with server(sqlite_file=world["sqlite_file"], log_dir=world["log_dir"], **capacity) as (
        ws_url,
        http_url,
    ):
        process = feed(**world, **capacity)
        with open_ws(ws_url, access_token(trader), max_queue=None) as ws:
            assert subscribe(ws, CALL)["type"] == "snapshot"
            send_json(ws, {"action": "subscribe", "symbols": [PUT, "NIFTY"]})
            [*_, refused] = recv_until(ws, lambda message: message["type"] == "error")
            send_json(ws, {"action": "ping"})
            recv_until(ws, lambda message: message == {"type": "pong"})  # the connection goes on
            wait_for(lambda: CALL_TOKEN in peer.subscribed_tokens(), timeout=5, what="the call")
            with urllib.request.urlopen(f"{http_url}/health", timeout=10) as response:  # noqa: S310
                health = json.loads(response.read())
            time.sleep(0.6)  # a poll of the feed's demand follower
        feed_stop(process)

    assert refused["type"] == "error" and refused["code"] == "subscription_limit"
    assert PUT in refused["message"] and "at most 7 instruments" in refused["message"]
    line = health["checks"]["feed_demand"]
    assert line.startswith("full: 7 of 7 instruments; 1 subscription(s) refused"), line
    assert line.endswith(f"({PUT})")
    assert health["healthy"] is True and "feed" in health["checks"]  # the other lines stay
    assert not peer_request(peer, token=PUT_TOKEN, action=1)
