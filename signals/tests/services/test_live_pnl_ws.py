"""End to end: as the option of an ACTIVE signal ticks, a `/ws` client receives `price`
signal events with its last price and the P&L there, conflated (at most
SIGNAL_PNL_EVENTS_PER_SECOND a second).

A real feed process (`run_feed --source angelone` on the local Angel One peer, which sends the
option about 5 ticks a second), Redis, a daphne process serving `/ws`, and a WebSocket client;
this run's database shared by all (the fixtures of marketdata/tests/live and conftest.py)."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import User
from marketdata.tests.live.conftest import _shared_database, sqlite_file  # noqa: F401 - fixtures
from marketdata.tests.live.demand_helpers import server
from marketdata.tests.live.helpers import access_token, open_ws, recv_json
from signals import services
from signals.tests.helpers import FEED_OPTION_TOKEN, lasting

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 4


@pytest.fixture
def ws_client(running_feed, sqlite_file, tmp_path) -> Iterator[Any]:  # noqa: F811
    trader = User.objects.create_user("live@example.com", "Live-Password-7", name="Live")
    token = access_token(trader)
    with (
        server(sqlite_file=sqlite_file, log_dir=tmp_path) as (ws_url, _http),
        open_ws(ws_url, token) as ws,
    ):
        yield ws


def _price_events(ws: Any, peer: Any, signal_id: int, count: int) -> list[dict[str, Any]]:
    """The next `count` price events of the signal, each with how many of the option's frames
    the peer had sent when it arrived."""
    events = []
    deadline = time.monotonic() + 20
    while len(events) < count:
        message = recv_json(ws, timeout=max(deadline - time.monotonic(), 0.01))
        if message.get("action") == "price" and message["signal"]["id"] == signal_id:
            events.append({**message["signal"], "frames": peer.frames_sent[FEED_OPTION_TOKEN]})
    return events


def test_a_ws_client_sees_the_pnl_move_with_the_option(ws_client, running_feed, staff_user):
    peer = running_feed
    # BUY 2 lots of 75 from 1,000 (the peer prices options about 1,000, +-2%)
    signal = services.signal_create(author=staff_user, data=lasting())

    events = _price_events(ws_client, peer, signal.pk, EVENTS)

    for event in events:
        points = round(event["last_price"] - 1000.0, 4)
        assert event["unrealised_pnl"]["per_lot"]["points"] == pytest.approx(points)
        assert event["unrealised_pnl"]["per_lot"]["rupees"] == pytest.approx(points * 75, abs=0.01)
        assert event["unrealised_pnl"]["total"]["rupees"] == pytest.approx(points * 150, abs=0.01)
        assert event["status"] == "ACTIVE" and event["last_price_at"].endswith("Z")
    assert len({event["last_price"] for event in events}) > 1  # the option moved
    # Conflated: between the first event and the last, the option ticked more often than
    # the client was told (5 ticks a second, 2 events).
    ticked = events[-1]["frames"] - events[0]["frames"]
    print(f"\nthe option ticked {ticked} times while {EVENTS - 1} more price events came")
    assert ticked > EVENTS - 1
