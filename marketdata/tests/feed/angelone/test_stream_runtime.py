"""The Angel One source's set changing at runtime, against the local peer: subscribe and
unsubscribe messages on the open connections, mode changes, more connections past 1,000
tokens, a reconnect resubscribing the current set, and following the demand."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from marketdata import demand
from marketdata.feed.angelone.frames import FeedInstrument
from marketdata.feed.angelone.stream import MAX_CONNECTIONS, TOKENS_PER_CONNECTION
from marketdata.models import Instrument
from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer
from marketdata.tests.feed.angelone.test_stream import (
    NIFTY,
    SENSEX,
    at_least,
    make_source,
    more,
    stream,
    then,
)

CALL = FeedInstrument("NIFTY25DEC24000CE", "43001", 2)
PUT = FeedInstrument("NIFTY25DEC24000PE", "43002", 2)


def requests(peer: AngelOnePeer, action: int, since: int = 0) -> list[dict[str, Any]]:
    return [m for m in peer.subscribe_messages[since:] if m["action"] == action]


def tokens(message: dict[str, Any]) -> set[str]:
    return {token for group in message["params"]["tokenList"] for token in group["tokens"]}


def symbols_seen(ticks: list) -> set[str]:
    return {tick.symbol for tick in ticks}


def test_instruments_are_added_and_removed_on_the_open_connection(angelone_peer):
    source = make_source(angelone_peer, instruments=[NIFTY], mode="quote")
    ticks_since: list[int] = []

    def mark(ticks: list) -> bool:
        ticks_since.append(len(ticks))
        return True

    ticks = stream(
        source,
        at_least(2),
        then(lambda: source.subscriptions_update([(NIFTY, "quote"), (CALL, "quote")])),
        lambda ticks: CALL.symbol in symbols_seen(ticks),
        then(lambda: source.subscriptions_update([(NIFTY, "quote")])),
        lambda ticks: angelone_peer.subscribed_tokens() == {NIFTY.token},
        mark,
        more(10),
    )

    assert angelone_peer.handshakes == [101]  # one connection all along
    _, added = requests(angelone_peer, 1)
    [removed] = requests(angelone_peer, 0)
    assert added["params"] == {"mode": 2, "tokenList": [{"exchangeType": 2, "tokens": ["43001"]}]}
    assert removed["params"] == added["params"]
    call = next(t for t in ticks if t.symbol == CALL.symbol)
    assert (call.token, call.exchange, call.exchange_type) == ("43001", "NFO", 2)
    # Frames of the option still in flight were real ticks, not unknown tokens.
    assert source.stats["unknown_token"] == 0
    assert CALL.symbol not in symbols_seen(ticks[ticks_since[0] + 5 :])


def test_a_mode_change_unsubscribes_the_old_mode_then_subscribes_the_new(angelone_peer):
    source = make_source(angelone_peer, instruments=[NIFTY, CALL], mode="quote")

    ticks = stream(
        source,
        at_least(2),
        then(lambda: source.subscriptions_update([(NIFTY, "quote"), (CALL, "snap_quote")])),
        lambda ticks: any(t.symbol == CALL.symbol and t.depth for t in ticks),
    )

    old, new = angelone_peer.subscribe_messages[1:3]
    assert (old["action"], old["params"]["mode"], tokens(old)) == (0, 2, {"43001"})
    assert (new["action"], new["params"]["mode"], tokens(new)) == (1, 3, {"43001"})
    assert not any(t.depth for t in ticks if t.symbol == NIFTY.symbol)


def test_a_reconnect_subscribes_the_current_set(angelone_peer):
    source = make_source(angelone_peer, instruments=[NIFTY, SENSEX], mode="quote")
    before_drop: list[int] = []

    def drop() -> None:
        before_drop.append(len(angelone_peer.subscribe_messages))
        angelone_peer.drop_connections()

    stream(
        source,
        at_least(2),
        then(lambda: source.subscriptions_update([(NIFTY, "quote"), (CALL, "ltp")])),
        lambda ticks: CALL.symbol in symbols_seen(ticks),
        then(drop),
        lambda ticks: (
            source.stats["reconnects"] == 1
            and angelone_peer.subscribed_tokens() == {NIFTY.token, CALL.token}
        ),
        more(5),
    )

    again = requests(angelone_peer, 1, since=before_drop[0])
    assert [(m["params"]["mode"], tokens(m)) for m in again] == [
        (2, {NIFTY.token}),
        (1, {CALL.token}),
    ]
    assert requests(angelone_peer, 0, since=before_drop[0]) == []  # a new connection starts empty


def test_past_a_thousand_tokens_another_connection_opens_and_past_three_thousand_none(
    angelone_peer, caplog
):
    angelone_peer.tick_interval = 5.0
    many = [FeedInstrument(f"S{n}", str(500_000 + n), 1) for n in range(3500)]
    source = make_source(angelone_peer, instruments=[NIFTY])

    stream(
        source,
        then(lambda: source.subscriptions_update([(item, "ltp") for item in many[:1500]])),
        lambda ticks: len(angelone_peer.subscribed_tokens()) == 1500,
        then(lambda: source.subscriptions_update([(item, "ltp") for item in many])),
        lambda ticks: len(angelone_peer.subscribed_tokens()) == TOKENS_PER_CONNECTION * 3,
    )

    assert angelone_peer.max_connections == MAX_CONNECTIONS
    assert source.stats["stream_errors"] == 0  # the peer never answered E1002 (limit exceeded)
    assert NIFTY.token not in angelone_peer.subscribed_tokens()
    assert "Angel One streams at most 3000 instruments: 500 left out" in caplog.text


# --- Following the demand -------------------------------------------------------------------


def in_thread(action: Callable[[], object]) -> Callable[[list], bool]:
    """A step running `action` in a thread of its own (database access is not for the loop)."""
    return lambda ticks: threading.Thread(target=action).start() or True


@pytest.fixture
def fresh_demand(settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.5
    demand.process_demand_replace()
    yield
    demand.process_demand_replace()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_demand")
def test_following_the_demand_subscribes_a_hold_within_a_second_and_releases_it(angelone_peer):
    Instrument.objects.create(
        token=CALL.token, symbol=CALL.symbol, exchange="NFO", exchange_type=2, name="NIFTY"
    )
    start = demand.demand_read(default_mode="quote")
    source = make_source(
        angelone_peer,
        instruments=[item.instrument for item in start.instruments],
        mode="quote",
        follow_demand=True,
    )
    timings: dict[str, float] = {}

    def hold() -> None:
        timings["held"] = time.monotonic()
        demand.demand_hold(holder="client", symbols=[CALL.symbol])

    def release() -> None:
        timings["released"] = time.monotonic()
        demand.demand_release(holder="client")

    def seen(action: int) -> Callable[[list], bool]:
        def step(ticks: list) -> bool:
            if any(CALL.token in tokens(m) for m in requests(angelone_peer, action)):
                timings.setdefault(f"action {action}", time.monotonic())
                return True
            return False

        return step

    ticks = stream(
        source,
        at_least(6),
        in_thread(hold),
        seen(1),
        lambda ticks: CALL.symbol in symbols_seen(ticks),
        in_thread(release),
        seen(0),
    )

    assert timings["action 1"] - timings["held"] < 1.0
    assert 0.5 <= timings["action 0"] - timings["released"] < 1.5  # after the grace
    assert source.stats["demand_updates"] >= 2 and source.stats["demand_errors"] == 0
    assert {t.symbol for t in ticks} >= {"NIFTY", "SENSEX", CALL.symbol}
