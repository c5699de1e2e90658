"""The embedded default (`manage.py serve` without Redis): a `/ws` client's subscription to a
master option reaches the feed in the same process, which streams it at once, and its ticks
reach the client; the simulated source prices the option plausibly."""

import json
import re
import signal
import time

import pytest
from websockets.sync.client import connect

from accounts.services import auth_login
from conftest import PASSWORD
from marketdata.models import Instrument
from marketdata.tests.feed.feedprocess import feed_database, feed_env, feed_finish, feed_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_sandbox")]

CALL = "NIFTY25DEC24000CE"


def _listening_port(process) -> int:
    for line in process.stderr:
        if found := re.search(r"Serving on http://127\.0\.0\.1:(\d+)", line):
            return int(found.group(1))
    raise AssertionError("serve exited before listening")


def test_serve_streams_a_master_option_a_client_subscribes(user, tmp_path):
    Instrument.objects.create(
        token="43001",
        symbol=CALL,
        name="NIFTY",
        exchange="NFO",
        exchange_type=2,
        instrument_type="OPTIDX",
        strike=24000.0,
    )
    database = feed_database(tmp_path)
    env = feed_env(database=database.url, log_dir=tmp_path, REDIS_URL="")
    process = feed_start("serve", ["--port=0", "--source=simulated", "--ignore-market-hours"], env)
    port = _listening_port(process)
    access = auth_login(email=user.email, password=PASSWORD).access_token

    with connect(f"ws://127.0.0.1:{port}/ws?token={access}") as websocket:
        asked = time.monotonic()
        websocket.send(json.dumps({"action": "subscribe", "symbols": [CALL]}))
        snapshot = json.loads(websocket.recv(timeout=10))
        while True:
            message = json.loads(websocket.recv(timeout=10))
            if message["type"] == "tick" and message["tick"]["symbol"] == CALL:
                break
        first_tick = time.monotonic() - asked
    process.send_signal(signal.SIGTERM)
    status, log = feed_finish(process)

    assert status == 0, log
    assert snapshot["type"] == "snapshot" and snapshot["symbols"] == [CALL]
    # The follower wakes at once; the simulated source ticks once a second.
    assert first_tick < 2.0
    assert 300 < message["tick"]["ltpc"] < 1000  # NIFTY at 24,500: ~500 intrinsic + time value
