"""`instruments_sync`: the master upserted a batch at a time, idempotently; expired and
delisted contracts retire, subscribed instruments stay as staff keep them; malformed records
are skipped and counted."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata.instruments import InstrumentSyncResult, instruments_sync
from marketdata.models import Instrument
from marketdata.tests.feed.angelone.angelone_peer import master_record, option_symbol

pytestmark = pytest.mark.django_db

TODAY = date(2024, 12, 2)
WEEK = date(2024, 12, 5)
WRITES = ("INSERT", "UPDATE", "DELETE")


def option(token: int, strike: int, *, expiry: date = WEEK, kind: str = "CE", **overrides):
    record = master_record(
        str(token), option_symbol("NIFTY", expiry, strike, kind), name="NIFTY", exchange="NFO",
        instrument_type="OPTIDX", expiry=expiry, strike=strike, lot_size=75,
    )  # fmt: skip
    return {**record, **overrides}


def chain(count: int, *, first_token: int = 40000) -> list[dict[str, str]]:
    return [option(first_token + n, 24000 + 50 * n) for n in range(count)]


def sync(records, *, today: date = TODAY, batch_size: int = 2000) -> InstrumentSyncResult:
    return instruments_sync(records=iter(records), today=today, batch_size=batch_size)


def tokens(**filters) -> set[str]:
    return set(Instrument.objects.filter(**filters).values_list("token", flat=True))


def test_a_resync_of_an_unchanged_master_writes_nothing():
    master = chain(2000)  # two batches, the first looked up in two queries
    sync(master, batch_size=1500)
    stamps = dict(Instrument.objects.values_list("token", "updated_at"))

    with CaptureQueriesContext(connection) as queries:
        result = sync(master, batch_size=1500)

    assert result == InstrumentSyncResult(created=0, updated=0, removed=0, skipped=0)
    assert [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)] == []
    assert dict(Instrument.objects.values_list("token", "updated_at")) == stamps


def test_changed_contracts_are_updated_and_only_they_are_stamped():
    master = chain(3)
    sync(master)
    stamps = dict(Instrument.objects.values_list("token", "updated_at"))

    result = sync([master[0], {**master[1], "lotsize": "25", "tick_size": "10.000000"}, master[2]])

    changed = Instrument.objects.get(token="40001")
    assert (changed.lot_size, changed.tick_size) == (25, 0.1)
    assert changed.updated_at > stamps["40001"]
    assert Instrument.objects.get(token="40000").updated_at == stamps["40000"]
    assert (result.created, result.updated) == (0, 1)


def test_a_master_longer_than_a_batch_loads_whole_and_a_repeated_key_once():
    master = chain(10)
    repeated = {**master[2], "symbol": "NIFTY-REPEATED"}

    result = sync([*master, repeated], batch_size=3)

    assert tokens(exchange="NFO") == {str(40000 + n) for n in range(10)}
    assert Instrument.objects.get(token="40002").symbol == master[2]["symbol"]
    assert (result.created, result.skipped) == (10, 0)


def test_expired_contracts_retire_and_are_not_loaded_again_but_subscribed_ones_stay():
    yesterday = TODAY - timedelta(days=1)
    listed_expired, unlisted_expired = option(1, 24000, expiry=yesterday), option(2, 24100)
    sync([listed_expired, unlisted_expired, option(3, 24200)], today=yesterday)
    Instrument.objects.filter(token="3").update(subscribed=True, expiry=yesterday)
    Instrument.objects.filter(token="2").update(expiry=yesterday)

    result = sync([listed_expired, option(3, 24200), option(4, 24300)])

    assert tokens(exchange="NFO") == {"3", "4"}
    assert Instrument.objects.get(token="3").expiry == yesterday  # subscribed: left as it is
    assert (result.created, result.removed, result.skipped) == (1, 2, 1)


def test_contracts_the_master_no_longer_lists_retire_but_subscribed_ones_stay():
    sync(chain(4))
    Instrument.objects.filter(token="40003").update(subscribed=True)

    result = sync(chain(2))

    assert tokens(exchange="NFO") == {"40000", "40001", "40003"}
    assert result.removed == 1
    assert tokens(subscribed=True) >= {"40003", "99926000", "99919000"}  # and the indices


def test_malformed_records_are_skipped_and_counted():
    good = option(1, 24000)
    malformed = [
        {key: value for key, value in good.items() if key != "token"},
        {**good, "token": "2", "expiry": "someday"},
        {**good, "token": "3", "exch_seg": "NYSE"},
        {**good, "token": "4", "symbol": "N" * 65},
        {**good, "token": "5", "lotsize": "-75"},
        {**good, "token": "6", "strike": "NaN"},
        {**good, "token": "7", "symbol": ""},
        "NIFTY",
        None,
        [1, 2],
    ]

    result = sync([good, *malformed])

    assert tokens(exchange="NFO") == {"1"}
    assert (result.created, result.skipped) == (1, len(malformed))


def test_indices_equities_and_futures_have_no_strike():
    future = master_record(
        "35100", "NIFTY26DEC24FUT", name="NIFTY", exchange="NFO", instrument_type="FUTIDX",
        expiry=WEEK,
    )  # fmt: skip
    equity = master_record("2885", "RELIANCE-EQ", name="RELIANCE", exchange="NSE")
    vix = master_record("99926017", "India VIX", name="INDIA VIX", exchange="NSE", strike=0)

    sync([future, equity, vix])

    strikes = dict(
        Instrument.objects.filter(token__in=["35100", "2885", "99926017"]).values_list(
            "token", "strike"
        )
    )
    assert strikes == {"35100": None, "2885": None, "99926017": None}


def test_a_master_that_lists_nothing_removes_only_expired_contracts():
    sync([option(1, 24000), option(2, 24100, expiry=TODAY)])

    result = sync([], today=TODAY + timedelta(days=1))

    assert tokens(exchange="NFO") == {"1"}
    assert result.removed == 1
