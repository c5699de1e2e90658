"""The live push protocol (`live/consumer.py`) through a real daphne: subscribe and snapshots,
published ticks and signal events, bad input, and the per-connection limits."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from marketdata.live import publish
from marketdata.models import Instrument, MarketData
from marketdata.serializers import TickSerializer
from marketdata.tests.live.helpers import (
    access_token,
    close_code,
    open_ws,
    recv_json,
    recv_until,
    send_json,
    subscribe,
    tick,
)


@pytest.fixture
def ws(live_url, trader):
    with open_ws(live_url, access_token(trader)) as connection:
        yield connection


def _stored(symbol: str, ltpc: float, minutes_ago: int) -> MarketData:
    return MarketData.objects.create(
        tk="99926000",
        token="99926000",
        symbol=symbol,
        exchange="NSE",
        ltpc=ltpc,
        received_at=datetime.now(tz=UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago),
        source="test",
        data_quality="GOOD",
    )


def _as_json(data: object) -> object:
    return json.loads(publish.json_render(data))


def test_subscribe_sends_a_snapshot_of_the_latest_stored_tick(ws):
    _stored("NIFTY", 23400.0, minutes_ago=2)
    latest = _stored("NIFTY", 23450.5, minutes_ago=1)

    snapshot = subscribe(ws, "NIFTY", "BANKNIFTY")

    assert snapshot == {
        "type": "snapshot",
        "symbols": ["NIFTY", "BANKNIFTY"],
        "ticks": [_as_json(TickSerializer(latest).data)],  # the REST shape; BANKNIFTY has none
    }


def test_published_ticks_reach_subscribers_in_the_rest_shape_with_sequence_numbers(ws):
    subscribe(ws, "NIFTY")
    published = [tick("NIFTY", 23500.0), tick("BANKNIFTY", 49000.0), tick("NIFTY", 23501.0)]

    publish.ticks_publish(ticks=published)  # from this process: daphne runs in another one

    first, second = recv_json(ws), recv_json(ws)
    assert [first["type"], second["type"]] == ["tick", "tick"]
    assert first["tick"] == _as_json(TickSerializer(published[0]).data)
    assert second["tick"]["ltpc"] == 23501.0
    assert second["seq"] == first["seq"] + 1
    send_json(ws, {"action": "ping"})
    assert recv_json(ws) == {"type": "pong"}  # nothing of BANKNIFTY came before it


def test_unsubscribed_symbol_stops_arriving(ws):
    subscribe(ws, "NIFTY", "SENSEX")
    send_json(ws, {"action": "unsubscribe", "symbols": ["NIFTY"]})
    send_json(ws, {"action": "ping"})
    assert recv_json(ws) == {"type": "pong"}

    publish.ticks_publish(ticks=[tick("NIFTY", 23500.0), tick("SENSEX", 77000.0)])

    message = recv_json(ws)
    assert message["tick"]["symbol"] == "SENSEX"


def test_signal_events_reach_every_connected_client(live_url, trader, ws):
    with open_ws(live_url, access_token(trader)) as other:
        publish.signal_event_publish(event={"action": "created", "signal": {"symbol": "NIFTY"}})

        expected = {"type": "signal", "action": "created", "signal": {"symbol": "NIFTY"}}
        assert recv_json(ws) == expected
        assert recv_json(other) == expected


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param("{not json", "invalid_json", id="invalid-json"),
        pytest.param("[1, 2]", "invalid_json", id="not-an-object"),
        pytest.param('{"action": "dance"}', "unknown_action", id="unknown-action"),
        pytest.param('{"symbols": ["NIFTY"]}', "unknown_action", id="no-action"),
        pytest.param(
            '{"action": "subscribe", "symbols": ["NIFTY", "NOPE"]}', "unknown_symbol", id="unknown"
        ),
        pytest.param('{"action": "subscribe", "symbols": "NIFTY"}', "invalid_symbols", id="str"),
        pytest.param('{"action": "subscribe", "symbols": []}', "invalid_symbols", id="empty"),
        pytest.param('{"action": "subscribe", "symbols": [1]}', "invalid_symbols", id="not-str"),
        pytest.param(
            json.dumps({"action": "subscribe", "symbols": ["NIFTY"] * 51}),
            "too_many_symbols",
            id="too-many-symbols",
        ),
        pytest.param(
            json.dumps({"action": "ping", "padding": "x" * 5000}),
            "message_too_large",
            id="oversized",
        ),
    ],
)
def test_bad_input_gets_an_error_and_the_connection_stays_usable(ws, message, code):
    ws.send(message)

    error = recv_json(ws)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert subscribe(ws, "NIFTY")["type"] == "snapshot"  # still usable, and nothing half-done


def test_subscriptions_are_limited_per_connection(ws):
    limit = settings.WS_MAX_SYMBOLS  # the daphne process runs with the same settings
    symbols = [f"TEST{i}" for i in range(limit + 1)]
    Instrument.objects.bulk_create(
        Instrument(token=str(i), symbol=symbol, exchange="NSE", exchange_type=1)
        for i, symbol in enumerate(symbols)
    )
    assert subscribe(ws, *symbols[:limit])["type"] == "snapshot"

    error = subscribe(ws, symbols[limit])

    assert error["code"] == "too_many_symbols"


def test_flooding_client_is_rate_limited_then_closed_with_4429(ws):
    burst = settings.WS_RATE_LIMIT_BURST
    for _ in range(burst):
        send_json(ws, {"action": "ping"})
    for _ in range(burst):
        assert recv_json(ws) == {"type": "pong"}

    for _ in range(2 * burst + 2):
        send_json(ws, {"action": "ping"})

    messages = recv_until(ws, lambda message: message.get("code") == "rate_limited")
    assert messages[-1]["type"] == "error"
    code, _reason = close_code(ws)
    assert code == 4429
