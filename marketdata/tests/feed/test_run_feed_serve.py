"""`manage.py serve`: daphne and the feed in one process, as `make run` starts them; and
`serve --no-feed --proxy-headers`, as `make prod` starts it behind nginx.

Embedded defaults (no Redis): the in-memory channel layer reaches only the clients of the
process that publishes, so this proves the feed and the server share one process and loop.
"""

import http.client
import json
import re
import signal
import time

import pytest
from websockets.sync.client import connect

from accounts.services import auth_login
from conftest import PASSWORD
from marketdata.models import MarketData
from marketdata.tests.feed.feedprocess import (
    feed_database,
    feed_env,
    feed_finish,
    feed_start,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_sandbox")]


def _listening_port(process) -> int:
    for line in process.stderr:
        if found := re.search(r"Serving on http://127\.0\.0\.1:(\d+)", line):
            return int(found.group(1))
    raise AssertionError("serve exited before listening")


def _first_tick(websocket, *, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(websocket.recv(timeout=deadline - time.monotonic()))
        if message["type"] == "tick":
            return message
    raise AssertionError("no tick pushed")


def test_serve_pushes_simulated_ticks_to_a_websocket_client_at_once(user, tmp_path):
    database = feed_database(tmp_path)
    env = feed_env(database=database.url, log_dir=tmp_path, REDIS_URL="")
    process = feed_start("serve", ["--port=0", "--source=simulated", "--ignore-market-hours"], env)
    port = _listening_port(process)
    access = auth_login(email=user.email, password=PASSWORD).access_token

    with connect(f"ws://127.0.0.1:{port}/ws?token={access}") as websocket:
        websocket.send(json.dumps({"action": "subscribe", "symbols": ["NIFTY"]}))
        message = _first_tick(websocket)
    process.send_signal(signal.SIGTERM)
    status, log = feed_finish(process)

    assert message["tick"]["symbol"] == "NIFTY"
    assert status == 0, log
    database.sync()
    assert MarketData.objects.filter(symbol="NIFTY", source="simulated").exists()


def _login_status(port: int, forwarded_for: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"email": "nobody@example.com", "password": "Wrong-Password-1"})
        headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded_for}
        connection.request("POST", "/api/v1/auth/login", body, headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_serve_behind_a_proxy_limits_each_forwarded_client_apart(tmp_path):
    database = feed_database(tmp_path)
    # A day's window: the limit counts in fixed windows, and the attempts of a minute's
    # window could straddle its end.
    env = feed_env(
        database=database.url, log_dir=tmp_path, REDIS_URL="", AUTH_THROTTLE_RATE="2/day"
    )
    process = feed_start("serve", ["--port=0", "--no-feed", "--proxy-headers"], env)
    port = _listening_port(process)

    first_client = [_login_status(port, "203.0.113.7") for _ in range(3)]
    second_client = _login_status(port, "198.51.100.9")
    process.send_signal(signal.SIGTERM)
    status, log = feed_finish(process)

    assert first_client == [401, 401, 429]
    assert second_client == 401  # its own limit: the proxy's address is not the client's
    assert status == 0, log
