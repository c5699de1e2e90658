"""Odd input gets a 400 naming the parameter, never a 500 (issue 13, "No 500 on odd input"):
Unicode digits as page numbers, dates the clock cannot shift, NUL characters in symbols,
prices that are not numbers, and the API's 404 and 500 in the one error shape without DEBUG."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from marketdata.services import tick_ingest
from marketdata.ticks import Tick

pytestmark = pytest.mark.django_db

MARKET = "/api/v1/market-data"
NUL = "\x00"


@pytest.fixture
def nifty_tick(db) -> None:
    """NIFTY has ticks, so its symbol and chart pages have something to page through."""
    at = datetime(2025, 1, 6, 4, 30, tzinfo=UTC)
    tick = Tick(token="99926000", symbol="NIFTY", ltpc=23500.0, received_at=at, exchange="NSE")
    tick_ingest(ticks=[tick], enforce_market_hours=False)


def _names_parameter(response, name: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert name in body["errors"], body


@pytest.mark.parametrize(
    ("url", "name"),
    [
        (f"{MARKET}/symbol/NIFTY", "page_size"),
        (f"{MARKET}/filter", "page_size"),
        (f"{MARKET}/instruments", "page_size"),
        ("/api/v1/signals/", "page_size"),
        ("/api/v1/signals/", "page"),
    ],
)
def test_a_unicode_digit_as_a_page_number_is_a_400_naming_it(user_client, nifty_tick, url, name):
    # "²".isdigit() is true, yet int("²") fails.
    _names_parameter(user_client.get(url, {name: "²"}), name)


@pytest.mark.parametrize(
    "url", [f"{MARKET}/symbol/NIFTY", f"{MARKET}/filter", f"{MARKET}/chart/NIFTY"]
)
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("moment", ["0001-01-01", "9999-12-31T23:59:59-05:00"])
def test_a_date_at_the_end_of_the_calendar_is_a_400_naming_it(
    user_client, nifty_tick, url, name, moment
):
    _names_parameter(user_client.get(url, {name: moment}), name)


@pytest.mark.parametrize("name", ["from", "to"])
def test_a_performance_date_that_leaves_the_calendar_in_utc_is_a_400_naming_it(staff_client, name):
    response = staff_client.get("/api/v1/signals/performance", {name: "0001-01-01T00:00:00+05:30"})

    _names_parameter(response, name)


@pytest.mark.parametrize(
    ("url", "name"),
    [(f"{MARKET}/symbol/NIFTY{NUL}", "symbol"), (f"{MARKET}/chart/NIFTY{NUL}", "symbol")],
)
def test_a_nul_in_a_symbol_path_is_a_400_naming_it(user_client, nifty_tick, url, name):
    _names_parameter(user_client.get(url.replace(NUL, "%00")), name)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        (f"{MARKET}/latest", "symbols"),
        (f"{MARKET}/filter", "symbols"),
        (f"{MARKET}/filter", "exchange"),
        (f"{MARKET}/filter", "source"),
        (f"{MARKET}/instruments", "search"),
        (f"{MARKET}/instruments", "exchange"),
        (f"{MARKET}/instruments", "instrument_type"),
        ("/api/v1/signals/", "symbol"),
    ],
)
def test_a_nul_in_a_text_parameter_is_a_400_naming_it(user_client, url, name):
    _names_parameter(user_client.get(url, {name: f"NIFTY{NUL}"}), name)


@pytest.mark.parametrize("name", ["min_price", "max_price"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_a_price_that_is_not_a_finite_number_is_a_400_naming_it(user_client, name, value):
    _names_parameter(user_client.get(f"{MARKET}/filter", {name: value}), name)


@pytest.mark.parametrize("url", ["/api/v1/auth/logout", "/api/v1/auth/refresh"])
def test_a_malformed_multipart_body_is_a_415_in_the_error_shape(api_client, url):
    # Bodies are JSON only, so the schema offers no multipart (which, malformed, Twisted
    # answered under daphne with an empty 400 before Django saw it).
    response = api_client.generic(
        "POST", url, b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x"
    )

    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "multipart/form-data; boundary=x" in request.',
        "errors": {},
    }


def test_the_schema_offers_json_bodies_only(api_client):
    schema = api_client.get("/openapi.json").json()

    bodies = {
        (path, method): set(operation["requestBody"]["content"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    }
    assert bodies
    assert all(types == {"application/json"} for types in bodies.values()), bodies


@pytest.mark.parametrize("url", ["/api/v1/nowhere", "/api/v1/market-data/nowhere"])
def test_an_unknown_api_path_is_a_json_404_without_debug(settings, url):
    settings.DEBUG = False

    response = Client().get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "errors": {}}


def test_a_crash_on_an_api_path_is_a_json_500_without_debug(settings, monkeypatch, user_client):
    settings.DEBUG = False

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("marketdata.selectors.symbols_overview", broken)
    user_client.raise_request_exception = False

    response = user_client.get(f"{MARKET}/symbols")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "A server error occurred.", "errors": {}}


def test_pages_outside_the_api_keep_django_s_html_404(settings):
    settings.DEBUG = False

    response = Client().get("/nowhere")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
