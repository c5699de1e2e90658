"""Bounded bodies (issue 13, section 2): every request outside the admin carries at most
API_MAX_BODY_BYTES, or gets a 413 in the API's error shape before its body is parsed
(`trading_signals.middleware.BodyLimitMiddleware`)."""

import http.client
import json

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from rest_framework.parsers import JSONParser

from testing.server import serving
from testing.streams import CountingStream
from trading_signals.middleware import BodyLimitMiddleware

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/refresh"
LIMIT = 64 * 1024
TOO_LARGE = {"detail": f"The request body is larger than {LIMIT} bytes.", "errors": {}}


def huge_json(size: int) -> str:
    """A JSON array of `size` bytes or a little more: what took the server to 779 MB."""
    return "[" + ",".join(["1"] * (size // 2 + 1)) + "]"


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """Every body DRF's JSON parser is asked to parse."""
    seen: list[int] = []
    parse = JSONParser.parse

    def spy(self, stream, media_type=None, parser_context=None):
        seen.append(1)
        return parse(self, stream, media_type, parser_context)

    monkeypatch.setattr(JSONParser, "parse", spy)
    return seen


def test_a_body_over_the_limit_is_a_413_in_the_error_shape_and_never_parsed(api_client, parses):
    response = api_client.post(REFRESH, huge_json(LIMIT), content_type="application/json")

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert parses == []


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/signals/", "/api/v1/market-data/latest", "/health"]
)
def test_every_endpoint_outside_the_admin_has_the_limit(api_client, path):
    response = api_client.post(path, huge_json(LIMIT), content_type="application/json")

    assert response.status_code == 413


def test_a_body_within_the_limit_is_read_as_usual(api_client, parses):
    response = api_client.post(REFRESH, {"refresh_token": "x" * (LIMIT - 100)}, format="json")

    assert response.status_code == 400  # longer than any refresh token
    assert "refresh_token" in response.json()["errors"]
    assert parses == [1]


def test_the_limit_is_configurable(api_client, settings):
    settings.API_MAX_BODY_BYTES = 100

    response = api_client.post(REFRESH, {"refresh_token": "x" * 100}, format="json")

    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than 100 bytes."


def test_a_malformed_content_length_is_a_400(rf):
    request = rf.post(REFRESH, "{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "²"

    response = BodyLimitMiddleware(lambda r: HttpResponse())(request)

    assert response.status_code == 400


def test_the_admin_keeps_djangos_own_limits(client):
    response = client.post("/admin/login/", {"username": "a", "notes": "x" * LIMIT})

    assert response.status_code != 413


def asgi_post(body: CountingStream) -> ASGIRequest:
    """A POST without Content-Length (a chunked body), as the ASGI handler builds it."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": REFRESH,
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    return ASGIRequest(scope, body)


def test_a_chunked_body_is_read_only_up_to_the_limit():
    body = CountingStream(huge_json(10 * LIMIT).encode())

    response = BodyLimitMiddleware(lambda r: HttpResponse())(asgi_post(body))

    assert response.status_code == 413
    assert json.loads(response.content) == TOO_LARGE
    assert body.bytes_read == LIMIT + 1


def test_a_chunked_body_within_the_limit_is_handed_on_unread():
    body = CountingStream(b'{"refresh_token": "abc"}')
    seen = []

    def view(request):
        seen.append((request.body, request.read()))
        return HttpResponse()

    BodyLimitMiddleware(view)(asgi_post(body))

    assert seen == [(b'{"refresh_token": "abc"}', b'{"refresh_token": "abc"}')]


# --- Through a real server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def server_port(tmp_path_factory):
    """daphne serving the project; the 413 never reaches the database, so any will do."""
    folder = tmp_path_factory.mktemp("body-limit")
    env = {
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MONGODB_URL": "",
        "LOG_DIR": str(folder),
    }
    with serving(env=env, log=folder / "daphne.log") as port:
        yield port


def post(port: int, body: bytes, *, chunked: bool) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if chunked:
            chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
            connection.request("POST", REFRESH, chunks, headers, encode_chunked=True)
        else:
            connection.request("POST", REFRESH, body, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_daphne_answers_a_large_body_with_a_413(server_port, chunked):
    status, body = post(server_port, huge_json(4 * LIMIT).encode(), chunked=chunked)

    assert (status, body) == (413, TOO_LARGE)
