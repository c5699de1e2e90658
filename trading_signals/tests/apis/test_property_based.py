"""No input makes the API answer 5xx (issue 13): every query and path parameter of every GET
operation in the OpenAPI schema, and every kind of `/ws` message.

Each odd value the security review found (and its kin) goes into each parameter in turn;
hypothesis then draws whole requests and messages. Derandomized, with few examples per
operation: the same inputs on every run, so CI never flakes, and the file runs in seconds on
each backend.
"""

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.services import auth_login
from conftest import PASSWORD
from marketdata.services import tick_ingest
from marketdata.tests.options.chain_data import chain_list
from marketdata.ticks import Tick
from signals import services as signal_services
from signals.tests.helpers import option_contract_create, signal_data
from trading_signals.asgi import application

# The fixtures (a signed-in client, stored rows) only set the stage: no request changes them.
FEW_EXAMPLES = hypothesis_settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What the security review found, and their kin: Unicode digits, NUL, non-finite numbers,
# the calendar's ends, impossible dates and offsets, huge numbers.
ODD = [
    "²",
    "٣",
    "\x00",
    "NIFTY\x00",
    "nan",
    "-inf",
    "Infinity",
    "1e309",
    "-1",
    "0",
    "9" * 40,
    "",
    " ",
    ",",
    "0001-01-01",
    "9999-12-31T23:59:59-05:00",
    "2025-02-30",
    "2025-01-06T09:15:00+99:00",
]
# Values that pass validation, so the drawn requests also reach the queries.
SENSIBLE = ["NIFTY", "nifty", "NIFTY,SENSEX", "NSE", "1", "2", "100", "true", "2025-01-06"]

# Text a URL can carry (lone surrogates cannot be encoded as UTF-8).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=24)
MOMENTS = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
NUMBERS = st.one_of(st.integers(), st.floats()).map(str)
COMMON = st.one_of(
    st.sampled_from(ODD + SENSIBLE), TEXT, MOMENTS, st.dates().map(date.isoformat), NUMBERS
)


def _cursor(offset: str, reverse: str, position: str) -> str:
    """A DRF cursor as CursorPagination encodes one, with whatever fields were drawn."""
    query = urlencode({"o": offset, "r": reverse, "p": position})
    return base64.b64encode(query.encode()).decode()


CURSORS = st.one_of(st.builds(_cursor, NUMBERS, st.sampled_from(["0", "1", "x"]), COMMON), TEXT)


@dataclass(frozen=True)
class Operation:
    path: str
    path_parameters: tuple[str, ...]
    query_parameters: dict[str, tuple[str, ...]]  # name -> its enum (possibly empty)


def _get_operations() -> list[Operation]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        if "get" not in methods or not path.startswith("/api/"):
            continue
        parameters = methods["get"].get("parameters", [])
        operations.append(
            Operation(
                path=path,
                path_parameters=tuple(p["name"] for p in parameters if p["in"] == "path"),
                query_parameters={
                    p["name"]: tuple(p["schema"].get("enum", ()))
                    for p in parameters
                    if p["in"] == "query"
                },
            )
        )
    return operations


OPERATIONS = _get_operations()


def _query_value(name: str, enum: tuple[str, ...]) -> st.SearchStrategy[str]:
    values = st.one_of(COMMON, CURSORS) if name == "cursor" else COMMON
    return st.one_of(st.sampled_from(enum), values) if enum else values


def _url(operation: Operation, path: dict[str, str], query: dict[str, str]) -> str:
    quoted = {name: quote(value, safe="") for name, value in path.items()}
    return f"{operation.path.format(**quoted)}?{urlencode(query)}"


def _requests(operation: Operation, rows: dict[str, str]) -> st.SearchStrategy[str]:
    """URLs of `operation`: drawn path parameters (or the stored rows'), and any subset of its
    query parameters."""
    path = st.fixed_dictionaries(
        {
            name: st.one_of(st.just(rows[name]), COMMON, st.integers().map(str))
            for name in operation.path_parameters
        }
    )
    query = st.fixed_dictionaries(
        {},
        optional={
            name: _query_value(name, enum) for name, enum in operation.query_parameters.items()
        },
    )
    return st.builds(lambda path, query: _url(operation, path, query), path, query)


def test_the_schema_lists_every_endpoint_the_review_named():
    listed = {operation.path: operation for operation in OPERATIONS}

    assert {"symbols"} <= set(listed["/api/v1/market-data/latest"].query_parameters)
    assert {"page", "page_size"} <= set(listed["/api/v1/signals/"].query_parameters)
    assert {"from", "to", "page_size", "cursor"} <= set(
        listed["/api/v1/market-data/symbol/{symbol}"].query_parameters
    )
    assert {"from", "to", "min_price", "max_price", "symbols"} <= set(
        listed["/api/v1/market-data/filter"].query_parameters
    )
    assert {"from", "to", "interval"} <= set(
        listed["/api/v1/market-data/chart/{symbol}"].query_parameters
    )
    assert {"page_size", "search"} <= set(
        listed["/api/v1/market-data/instruments"].query_parameters
    )
    assert {"expiry", "strikes"} <= set(
        listed["/api/v1/market-data/option-chain/{underlying}"].query_parameters
    )


@pytest.fixture
def stored_rows(db, staff_user) -> dict[str, str]:
    """A NIFTY tick, a signal and three strikes of NIFTY options, so requests find rows to
    filter, page and chart and a chain to value; the path parameters that name them."""
    at = datetime(2025, 1, 6, 4, 30, tzinfo=UTC)
    tick = Tick(token="99926000", symbol="NIFTY", ltpc=23500.0, received_at=at, exchange="NSE")
    tick_ingest(ticks=[tick], enforce_market_hours=False)
    option_contract_create()  # the option the signal names, in the instrument master
    signal = signal_services.signal_create(author=staff_user, data=signal_data())
    chain_list(expiry=date(2099, 12, 31), strikes=[23_450.0, 23_500.0, 23_550.0])
    return {"symbol": "NIFTY", "id": str(signal.pk), "underlying": "NIFTY"}


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.path)
def test_no_odd_value_in_any_parameter_is_a_server_error(staff_client, stored_rows, operation):
    staff_client.raise_request_exception = False
    path = {name: stored_rows[name] for name in operation.path_parameters}
    urls = [_url(operation, {**path, name: value}, {}) for name in path for value in ODD]
    urls += [
        _url(operation, path, {name: value}) for name in operation.query_parameters for value in ODD
    ]

    answers = {url: staff_client.get(url).status_code for url in urls}

    assert {url: code for url, code in answers.items() if code >= 500} == {}


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.path)
@FEW_EXAMPLES
@given(data=st.data())
def test_no_drawn_request_is_a_server_error(staff_client, stored_rows, operation, data):
    url = data.draw(_requests(operation, stored_rows), label="url")

    response = staff_client.get(url)

    assert response.status_code < 500, (url, response.content)
    if response.status_code == 400:
        assert set(response.json()) == {"detail", "errors"}


# --- /ws -----------------------------------------------------------------------------------

SYMBOLS = st.one_of(
    st.sampled_from(["NIFTY", "nifty", " SENSEX ", "NIFTY\x00", "\x00", "²", ""]), TEXT
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
REQUESTS = st.fixed_dictionaries(
    {"action": st.one_of(st.sampled_from(["subscribe", "unsubscribe", "ping"]), JSON)},
    optional={
        "symbols": st.one_of(st.lists(SYMBOLS, max_size=4), JSON),
        "mode": st.one_of(st.sampled_from(["ltp", "quote", "snap_quote"]), JSON),
    },
)
MESSAGES = st.one_of(
    REQUESTS.map(lambda request: {"text_data": json.dumps(request)}),
    # (The test communicator sends no empty frames.)
    TEXT.filter(bool).map(lambda text: {"text_data": text}),
    st.binary(min_size=1, max_size=32).map(lambda raw: {"bytes_data": raw}),
)


async def _exchange(token: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Send `message`, then a ping: every reply up to the pong. The connection must stay open
    (a consumer that raises fails here with its exception)."""
    communicator = WebsocketCommunicator(application, f"/ws?token={token}")
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    try:
        await communicator.send_to(**message)
        await communicator.send_to(text_data='{"action": "ping"}')
        replies = []
        while not replies or replies[-1] != {"type": "pong"}:
            replies.append(await communicator.receive_json_from(timeout=5))
        return replies
    finally:
        await communicator.disconnect()


@pytest.fixture
def access_token(user) -> str:
    return auth_login(email=user.email, password=PASSWORD).access_token


@pytest.fixture
def in_process_layer(settings) -> None:
    """Each example runs on an event loop of its own, and the Redis-backed layer's listener
    lives on the first loop it ran on (daphne has one): hand group messages over in process."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}


@pytest.mark.django_db(transaction=True)
@FEW_EXAMPLES
@given(message=MESSAGES)
@example(message={"text_data": '{"action": "subscribe", "symbols": ["NIFTY\\u0000"]}'})
@example(message={"text_data": '{"action": "unsubscribe", "symbols": ["\\u0000"]}'})
@example(message={"text_data": '{"action": "subscribe", "symbols": ["NIFTY"], "mode": []}'})
def test_no_message_closes_the_live_push(access_token, in_process_layer, message):
    replies = async_to_sync(_exchange)(access_token, message)

    for reply in replies[:-1]:
        assert reply["type"] in {"snapshot", "error"}, reply


@pytest.mark.django_db(transaction=True)
def test_a_nul_in_a_subscribed_symbol_is_an_error_on_an_open_connection(
    access_token, in_process_layer
):
    message = {"text_data": json.dumps({"action": "subscribe", "symbols": ["NIFTY\x00"]})}

    replies = async_to_sync(_exchange)(access_token, message)

    assert replies == [
        {
            "type": "error",
            "code": "invalid_symbols",
            "message": "symbols must be a non-empty list of symbols.",
        },
        {"type": "pong"},
    ]
