"""`manage.py sync_instruments`: Angel One's scrip master (a file or its URL) into `Instrument`,
and the instruments search over what it loaded."""

import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from rest_framework_simplejwt.tokens import RefreshToken

from marketdata.models import Instrument
from testing.http import JsonServer

pytestmark = pytest.mark.django_db

NIFTY_INDEX = {
    "token": "99926000", "symbol": "Nifty 50", "name": "NIFTY", "expiry": "", "strike": "0.000000",
    "lotsize": "1", "instrumenttype": "AMXIDX", "exch_seg": "NSE", "tick_size": "0.000000",
}  # fmt: skip
NIFTY_CALL = {
    "token": "35003", "symbol": "NIFTY26DEC2425000CE", "name": "NIFTY", "expiry": "26DEC2024",
    "strike": "2500000.000000", "lotsize": "25", "instrumenttype": "OPTIDX", "exch_seg": "NFO",
    "tick_size": "5.000000",
}  # fmt: skip
MALFORMED = {"token": "1", "symbol": "X", "exch_seg": "NFO", "expiry": "someday"}


def sync_file(tmp_path, records) -> str:
    path = tmp_path / "OpenAPIScripMaster.json"
    path.write_text(json.dumps(records))
    output = io.StringIO()
    call_command("sync_instruments", file=path, stdout=output)
    return output.getvalue().strip()


def test_sync_loads_option_contracts_with_rupee_strikes(tmp_path):
    summary = sync_file(tmp_path, [NIFTY_INDEX, NIFTY_CALL, MALFORMED])

    option = Instrument.objects.get(token="35003")
    assert (option.exchange, option.exchange_type, option.instrument_type) == ("NFO", 2, "OPTIDX")
    assert (option.expiry, option.strike, option.lot_size, option.tick_size) == (
        date(2024, 12, 26),
        25000.0,
        25,
        0.05,
    )
    assert summary == "Instruments: 1 created, 0 updated, 0 removed, 1 skipped."


def test_sync_keeps_the_streamed_indices_codes(tmp_path):
    sync_file(tmp_path, [NIFTY_INDEX])

    assert Instrument.objects.get(token="99926000").symbol == "NIFTY"
    assert Instrument.objects.filter(subscribed=True).count() == 6


def test_a_later_sync_updates_changed_contracts_and_drops_expired_ones(tmp_path):
    sync_file(
        tmp_path, [NIFTY_CALL, {**NIFTY_CALL, "token": "35004", "symbol": "NIFTY26DEC2425100CE"}]
    )

    summary = sync_file(tmp_path, [{**NIFTY_CALL, "lotsize": "75"}])

    assert Instrument.objects.get(token="35003").lot_size == 75
    assert not Instrument.objects.filter(token="35004").exists()
    assert summary == "Instruments: 0 created, 1 updated, 1 removed, 0 skipped."


def test_sync_downloads_the_master_from_its_url(tmp_path):
    with JsonServer(lambda request: (200, [NIFTY_CALL])) as master:
        call_command("sync_instruments", url=f"{master.url}/master.json")

    assert Instrument.objects.filter(token="35003").exists()


def test_an_unreadable_file_is_a_command_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")

    with pytest.raises(CommandError, match="Cannot read"):
        call_command("sync_instruments", file=path)


def test_an_instruments_search_finds_option_contracts(tmp_path, api_client, user):
    sync_file(tmp_path, [NIFTY_CALL])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")

    found = api_client.get(
        "/api/v1/market-data/instruments",
        {"search": "nifty26", "exchange": "NFO", "expiry": "2024-12-26"},
    )
    bad = api_client.get("/api/v1/market-data/instruments", {"expiry": "December"})

    assert [i["symbol"] for i in found.json()["results"]] == ["NIFTY26DEC2425000CE"]
    assert "expiry" in bad.json()["errors"]
