"""The option chain end to end: a chain request asks the running feed (`run_feed --source
angelone`, a real process on the local Angel One peer, through real Redis) to stream its
contracts; the peer then sends their SNAP_QUOTE frames, the feed stores them, and the next
request shows live prices, open interest, implied volatilities and Greeks.

The peer prices each option near Black-76 at 14% volatility around its NIFTY level (22,450),
give or take 2% a frame (its random frames), so a deep in-the-money price may fall under its
intrinsic value: such an option gets a reason, never a made-up number.
"""

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from marketdata.market_calendar import IST, option_expires_at
from marketdata.models import MarketData
from marketdata.options.greeks import black76_price
from marketdata.options.valuation import years_between
from marketdata.tests.feed.angelone.angelone_peer import frames as peer_module
from marketdata.tests.live.demand_helpers import (
    feed,
    feed_ready,
    peer_request,
    wait_for,
)
from marketdata.tests.options.chain_data import chain_list

NIFTY_LEVEL = peer_module.LEVELS["99926000"] / 100  # the peer's NIFTY, in rupees
# 21,500 to 23,400: 3 strikes each side of any ATM strike the peer's NIFTY (+-2%) makes.
STRIKES = [21_500.0 + 50 * n for n in range(39)]
VOL, RATE = 0.14, 0.065
SNAP_QUOTE = 3


@pytest.fixture
def world(live_db, angelone_peer, sqlite_file, tmp_path, monkeypatch) -> Iterator[dict]:
    """NIFTY options expiring in a week, which the peer prices; today open all day; no demand
    left by other tests."""
    if settings.USES_MONGODB or not settings.REDIS_URL:
        pytest.skip("needs a SQL database and Redis")
    expiry = datetime.now(tz=UTC).astimezone(IST).date() + timedelta(days=7)
    options = chain_list(expiry=expiry, strikes=STRIKES)
    years = years_between(datetime.now(tz=UTC), option_expires_at(expiry))
    forward = NIFTY_LEVEL * math.exp(RATE * years)
    for option in options:
        price = black76_price(
            is_call=option.symbol.endswith("CE"), forward=forward, strike=option.strike,
            years=years, rate=RATE, vol=VOL,
        )  # fmt: skip
        monkeypatch.setitem(peer_module.LEVELS, option.token, max(5, round(price * 100)))
    with feed_ready(angelone_peer, sqlite_file=sqlite_file, log_dir=tmp_path) as world:
        yield world


def chain_read(client: APIClient) -> dict:
    response = client.get("/api/v1/market-data/option-chain/NIFTY", {"strikes": 3})
    assert response.status_code == 200, response.content
    body: dict = response.json()
    return body


def atm_live(body: dict) -> bool:
    atm = next(row for row in body["strikes"] if row["strike"] == body["atm_strike"])
    return all(atm[side]["iv"] is not None for side in ("CE", "PE"))


def chain_until_live(client: APIClient, *, timeout: float) -> dict:
    """Chain requests, five a second, until the ATM call and put are valued."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = chain_read(client)
        if atm_live(body):
            return body
        time.sleep(0.2)
    raise AssertionError(f"no live ATM call and put after {timeout:g} s: {body}")


def test_a_chain_request_streams_its_contracts_and_the_next_shows_them_live(world, trader):
    peer = world["peer"]
    client = APIClient()
    client.force_authenticate(user=trader)
    process = feed(**world)
    wait_for(
        lambda: MarketData.objects.filter(symbol="NIFTY").exists(), timeout=10, what="the spot"
    )

    asked = time.monotonic()
    first = chain_read(client)
    tokens = {row[side]["token"] for row in first["strikes"] for side in ("CE", "PE")}
    wait_for(
        lambda: all(peer_request(peer, token=token, action=1) for token in tokens),
        timeout=10,
        what="the peer's subscribe of the chain's contracts",
    )
    to_peer = time.monotonic() - asked
    live = chain_until_live(client, timeout=20)
    process.terminate()

    print(f"\nchain request -> peer subscribe {to_peer * 1000:.0f} ms")
    assert first["live"]["status"] == "requested" and first["live"]["symbols"] == len(tokens)
    assert len(tokens) == 14  # 7 strikes, a call and a put each
    modes = {
        group["exchangeType"]: message["params"]["mode"]
        for message in peer.subscribe_messages
        if message["action"] == 1
        for group in message["params"]["tokenList"]
        if tokens & set(group["tokens"])
    }
    assert modes == {2: SNAP_QUOTE}  # NFO, in the mode that carries open interest
    assert live["model"]["forward_source"] == "put_call_parity"
    atm = next(row for row in live["strikes"] if row["strike"] == live["atm_strike"])
    for side in (atm["CE"], atm["PE"]):
        assert side["last_price"] > 0 and side["open_interest"] is not None
        assert side["volume"] is not None and side["reasons"] == {}
        assert 0.05 < side["iv"] < 0.5  # the peer's 14%, moved by its 2% price noise
        assert side["gamma"] > 0 and side["vega"] > 0
    for row in live["strikes"]:
        for side in (row["CE"], row["PE"]):
            assert (side["iv"] is None) == ("iv" in side["reasons"]), side
