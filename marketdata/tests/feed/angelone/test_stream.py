"""The Angel One source (`feed/angelone/stream.py`) against the local peer: login, subscribe,
reconnects, session renewal, refused credentials, TLS and the reconnect backoff."""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest

from marketdata.feed.angelone.frames import FeedInstrument
from marketdata.feed.angelone.session import Credentials
from marketdata.feed.angelone.stream import (
    MAX_CONNECTIONS,
    SUBSCRIBE_BATCH,
    TOKENS_PER_CONNECTION,
    AngelOneSource,
    Backoff,
)
from marketdata.feed.errors import FeedConfigurationError
from marketdata.tests.feed.angelone.angelone_peer import (
    AngelOnePeer,
    PeerCredentials,
    self_signed_tls,
)

NIFTY = FeedInstrument("NIFTY", "99926000", 1)
SENSEX = FeedInstrument("SENSEX", "99919000", 3)
DEADLINE_SECONDS = 15


def make_source(peer: AngelOnePeer, **overrides: Any) -> AngelOneSource:
    creds = overrides.pop("peer_credentials", peer.credentials)
    options: dict[str, Any] = {
        "instruments": [NIFTY, SENSEX],
        "credentials": Credentials(creds.api_key, creds.client_id, creds.password, creds.totp_key),
        "api_url": peer.api_url,
        "ws_url": peer.ws_url,
        "backoff_base": 0.05,
        "backoff_cap": 0.2,
    }
    return AngelOneSource(**(options | overrides))


def stream(source: AngelOneSource, *steps: Callable[[list], bool]) -> list:
    """Run the source, polling each step in turn (it sees all ticks so far) until it holds."""

    async def run() -> list:
        ticks: list = []

        async def consume() -> None:
            async for batch in source.ticks():
                ticks.extend(batch)

        consumer = asyncio.create_task(consume())
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                for step in steps:
                    while not step(ticks):
                        if consumer.done():
                            consumer.result()  # raises what ended the source
                        await asyncio.sleep(0.02)
        finally:
            consumer.cancel()  # as the pipeline stops a source
            await asyncio.gather(consumer, return_exceptions=True)
        return ticks

    return asyncio.run(run())


def at_least(count: int, after: Callable[[], bool] = lambda: True) -> Callable[[list], bool]:
    return lambda ticks: len(ticks) >= count and after()


def more(count: int) -> Callable[[list], bool]:
    """True once `count` more ticks arrived than when this step began."""
    start: list[int] = []

    def step(ticks: list) -> bool:
        start.append(len(ticks))
        return len(ticks) >= start[0] + count

    return step


def then(action: Callable[[], object]) -> Callable[[list], bool]:
    return lambda ticks: action() or True


def session_renewed(peer: AngelOnePeer, *, after: int) -> tuple[Callable[[list], bool], ...]:
    """Steps: `after` ticks, then every session ends (as overnight), then a second login."""
    return at_least(after), then(peer.expire_sessions), lambda ticks: peer.logins == 2


def test_login_subscribe_and_stream_normalized_ticks(angelone_peer):
    source = make_source(angelone_peer, mode="quote")

    ticks = stream(source, lambda ticks: {t.symbol for t in ticks} == {"NIFTY", "SENSEX"})

    assert angelone_peer.logins == 1
    assert angelone_peer.handshakes == [101]
    [subscribe] = angelone_peer.subscribe_messages
    assert subscribe["action"] == 1
    assert subscribe["params"] == {
        "mode": 2,
        "tokenList": [
            {"exchangeType": 1, "tokens": ["99926000"]},
            {"exchangeType": 3, "tokens": ["99919000"]},
        ],
    }
    sensex = next(t for t in ticks if t.symbol == "SENSEX")
    assert (sensex.exchange, sensex.token, sensex.source) == ("BSE", "99919000", "angelone")
    assert 50_000 < sensex.ltpc < 100_000  # rupees, not paise
    assert sensex.received_at.tzinfo == UTC and sensex.volume is not None
    assert source.stats["frames"] >= len(ticks) and source.stats["malformed"] == 0


def test_dropped_connection_reconnects_and_resubscribes(angelone_peer):
    source = make_source(angelone_peer)

    ticks = stream(
        source,
        at_least(5),
        then(angelone_peer.drop_connections),
        lambda ticks: (
            source.stats["reconnects"] == 1 and len(angelone_peer.subscribe_messages) == 2
        ),
        more(10),
    )

    assert angelone_peer.logins == 1  # the session survived the drop
    first, again = angelone_peer.subscribe_messages
    assert again["params"] == first["params"]
    sequences = [t.sequence for t in ticks]
    assert len(sequences) == len(set(sequences))  # nothing delivered twice


def test_expired_session_logs_in_again(angelone_peer):
    source = make_source(angelone_peer)

    stream(source, *session_renewed(angelone_peer, after=3), more(3))

    assert 401 in angelone_peer.handshakes
    assert source.stats["session_rejected"] >= 1
    assert angelone_peer.handshakes[-1] == 101


def test_session_is_refreshed_before_the_jwt_expires(angelone_peer):
    angelone_peer.session_seconds = 4
    source = make_source(angelone_peer, refresh_margin=2.5)

    stream(source, lambda ticks: source.stats["refreshes"] >= 1, more(2))

    assert angelone_peer.refreshes >= 1
    assert angelone_peer.logins == 1


def test_wrong_totp_stops_with_an_error_naming_the_variable(angelone_peer):
    wrong = PeerCredentials(totp_key="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    source = make_source(angelone_peer, peer_credentials=wrong)

    with pytest.raises(FeedConfigurationError) as raised:
        stream(source, at_least(1))

    assert raised.value.variable == "ANGEL_ONE_TOTP_KEY"
    assert "Invalid totp" in str(raised.value) and wrong.totp_key not in str(raised.value)
    assert angelone_peer.logins == 0


@pytest.mark.parametrize(
    ("wrong", "variable"),
    [
        ({"api_key": "nope"}, "ANGEL_ONE_API_KEY"),
        ({"password": "nope"}, "ANGEL_ONE_PASSWORD"),
        ({"client_id": "X1"}, "ANGEL_ONE_CLIENT_ID"),
        ({"totp_key": "not base32!"}, "ANGEL_ONE_TOTP_KEY"),
    ],
)
def test_each_refused_credential_is_named(angelone_peer, wrong, variable):
    base = angelone_peer.credentials.__dict__
    source = make_source(angelone_peer, peer_credentials=PeerCredentials(**(base | wrong)))

    with pytest.raises(FeedConfigurationError) as raised:
        stream(source, at_least(1))

    assert raised.value.variable == variable


def test_missing_credential_is_named_before_connecting(angelone_settings, settings):
    settings.ANGEL_ONE_PASSWORD = ""

    with pytest.raises(FeedConfigurationError) as raised:
        AngelOneSource(instruments=[NIFTY])

    assert raised.value.variable == "ANGEL_ONE_PASSWORD"


def test_source_reads_urls_and_credentials_from_settings(angelone_settings):
    source = AngelOneSource(instruments=[NIFTY])

    ticks = stream(source, at_least(2))

    assert {t.symbol for t in ticks} == {"NIFTY"}


def test_garbage_frames_are_counted_and_the_stream_goes_on(angelone_peer):
    source = make_source(angelone_peer)

    stream(
        source,
        at_least(2),
        then(lambda: angelone_peer.send_garbage(12)),
        lambda ticks: source.stats["malformed"] == 12,
        more(5),
    )

    assert source.stats["reconnects"] == 0
    assert angelone_peer.handshakes == [101]


def test_silent_connection_is_replaced(angelone_peer):
    source = make_source(angelone_peer, ping_interval=0.1, silence_timeout=0.6)

    stream(
        source,
        lambda ticks: source.stats["pongs"] >= 1,
        then(angelone_peer.mute),
        lambda ticks: source.stats["reconnects"] >= 1,
        then(lambda: angelone_peer.mute(False)),
        lambda ticks: angelone_peer.connections == 1 and len(angelone_peer.subscribe_messages) >= 2,
        more(2),
    )

    assert angelone_peer.logins == 1


def test_more_than_a_thousand_tokens_are_spread_over_connections(angelone_peer):
    angelone_peer.tick_interval = 5.0
    instruments = [FeedInstrument(f"S{n}", str(500_000 + n), 1) for n in range(2500)]
    source = make_source(angelone_peer, instruments=instruments)

    stream(source, lambda ticks: len(angelone_peer.subscribed_tokens()) == 2500)

    assert angelone_peer.max_connections == MAX_CONNECTIONS
    per_message = [
        sum(len(g["tokens"]) for g in m["params"]["tokenList"])
        for m in angelone_peer.subscribe_messages
    ]
    assert max(per_message) <= SUBSCRIBE_BATCH and sum(per_message) == 2500
    assert angelone_peer.logins == 1


def test_more_tokens_than_three_connections_carry_is_refused():
    too_many = [FeedInstrument(f"S{n}", str(n), 1) for n in range(TOKENS_PER_CONNECTION * 3 + 1)]
    creds = PeerCredentials()

    with pytest.raises(FeedConfigurationError) as raised:
        AngelOneSource(instruments=too_many, credentials=Credentials(*creds.__dict__.values()))

    assert raised.value.variable == "--symbols"


def test_no_secret_reaches_a_log_line_or_a_log_file(angelone_peer, caplog, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # smartapi-python would create logs/<date>/app.log here
    caplog.set_level(logging.DEBUG)
    source = make_source(angelone_peer)

    stream(source, *session_renewed(angelone_peer, after=2))
    wrong = PeerCredentials(password="guess")
    with pytest.raises(FeedConfigurationError):
        stream(make_source(angelone_peer, peer_credentials=wrong), at_least(1))

    creds = angelone_peer.credentials
    secrets = [creds.api_key, creds.password, creds.totp_key, "guess", "eyJ"]
    assert caplog.messages  # the drop and the refusal were logged...
    # ...without any secret
    assert not [line for line in caplog.messages if any(s in line for s in secrets)]
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tls_peer():
    server, client = self_signed_tls()
    peer = AngelOnePeer(tls=server).start()
    yield peer, client
    peer.stop()


def test_stream_certificate_is_verified(tls_peer):
    peer, trusting = tls_peer
    untrusting = make_source(peer)  # the system's CAs: the peer's certificate is unknown

    stream(untrusting, lambda ticks: untrusting.stats["reconnects"] >= 2)
    ticks = stream(make_source(peer, ssl_context=trusting), at_least(2))

    assert untrusting.stats["frames"] == 0 and peer.handshakes == [101]
    assert ticks


def test_backoff_waits_are_jittered_below_a_doubling_capped_ceiling():
    for attempt, ceiling in enumerate([1.0, 2.0, 4.0, 8.0, 8.0, 8.0]):
        waits = []
        for _ in range(300):
            backoff = Backoff(base=1.0, cap=8.0)
            backoff.attempt = attempt
            waits.append(backoff.next())
        assert min(waits) >= 0 and ceiling * 0.8 < max(waits) <= ceiling


def test_backoff_starts_over_after_a_reset():
    backoff = Backoff(base=1.0, cap=60.0)
    for _ in range(10):
        backoff.next()

    backoff.reset()

    assert backoff.next() <= 1.0
