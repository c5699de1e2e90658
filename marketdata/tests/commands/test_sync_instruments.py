"""`manage.py sync_instruments`: Angel One's scrip master (a file, or its URL served by the
local Angel One peer) into `Instrument`, and the instruments search over what it loaded.

The clock stands on 2 December 2024, so the December 2024 contracts below have not expired.
"""

import io
import json
from collections.abc import Iterator
from datetime import date, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from rest_framework_simplejwt.tokens import RefreshToken

from marketdata.market_calendar import IST
from marketdata.models import Instrument

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
OTHER_CALL = {**NIFTY_CALL, "token": "35004", "symbol": "NIFTY26DEC2425100CE"}
MALFORMED = {"token": "1", "symbol": "X", "exch_seg": "NFO", "expiry": "someday"}


@pytest.fixture(autouse=True)
def clock() -> Iterator[object]:
    with time_machine.travel(datetime(2024, 12, 2, 8, 30, tzinfo=IST), tick=False) as traveller:
        yield traveller


def sync_file(tmp_path, records) -> str:
    path = tmp_path / "OpenAPIScripMaster.json"
    path.write_text(json.dumps(records))
    output = io.StringIO()
    call_command("sync_instruments", file=path, stdout=output)
    return output.getvalue().strip()


def sync_url(url: str) -> str:
    output = io.StringIO()
    call_command("sync_instruments", url=url, stdout=output)
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


def test_a_later_sync_updates_changed_contracts_and_drops_unlisted_ones(tmp_path):
    sync_file(tmp_path, [NIFTY_CALL, OTHER_CALL])

    summary = sync_file(tmp_path, [{**NIFTY_CALL, "lotsize": "75"}])

    assert Instrument.objects.get(token="35003").lot_size == 75
    assert not Instrument.objects.filter(token="35004").exists()
    assert summary == "Instruments: 0 created, 1 updated, 1 removed, 0 skipped."


def test_a_sync_the_day_after_an_expiry_retires_the_expired_contracts(tmp_path, clock):
    sync_file(tmp_path, [NIFTY_CALL, OTHER_CALL])
    clock.move_to(datetime(2024, 12, 27, 8, 30, tzinfo=IST))

    summary = sync_file(tmp_path, [NIFTY_CALL, OTHER_CALL])  # a master not yet regenerated

    assert not Instrument.objects.filter(token__in=["35003", "35004"]).exists()
    assert summary == "Instruments: 0 created, 0 updated, 2 removed, 2 skipped."


def test_sync_downloads_the_master_from_its_url(angelone_peer):
    angelone_peer.master_records = [NIFTY_CALL, OTHER_CALL, MALFORMED]

    summary = sync_url(angelone_peer.master_url)

    assert set(Instrument.objects.filter(exchange="NFO").values_list("token", flat=True)) == {
        "35003",
        "35004",
    }
    assert summary == "Instruments: 2 created, 0 updated, 0 removed, 1 skipped."
    assert angelone_peer.master_requests == 1


def test_a_gzip_encoded_download_is_decoded_as_it_streams(angelone_peer):
    angelone_peer.master_records = [NIFTY_CALL]
    angelone_peer.master_gzip = True

    sync_url(angelone_peer.master_url)

    assert Instrument.objects.get(token="35003").strike == 25000.0


def test_a_download_cut_short_is_a_command_error_and_removes_nothing(tmp_path, angelone_peer):
    sync_file(tmp_path, [NIFTY_CALL, OTHER_CALL])
    angelone_peer.master_records = [NIFTY_CALL] * 500
    angelone_peer.master_cut = True

    with pytest.raises(CommandError, match="Cannot read the instrument master"):
        sync_url(angelone_peer.master_url)

    assert Instrument.objects.filter(token__in=["35003", "35004"]).count() == 2


def test_a_refused_download_is_a_command_error(angelone_peer):
    angelone_peer.master_status = 503

    with pytest.raises(CommandError, match=r"Cannot download the instrument master.*503"):
        sync_url(angelone_peer.master_url)


def test_an_unreadable_file_is_a_command_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[{not json")

    with pytest.raises(CommandError, match="Cannot read"):
        call_command("sync_instruments", file=path)


def test_a_master_that_is_not_a_list_is_a_command_error(tmp_path):
    path = tmp_path / "error.json"
    path.write_text(json.dumps({"status": False, "message": "Service unavailable"}))

    with pytest.raises(CommandError, match="not a JSON list"):
        call_command("sync_instruments", file=path)


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("sync_instruments", file=tmp_path / "nowhere.json")


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
