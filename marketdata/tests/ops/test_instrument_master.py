"""The daily instrument master sync: the beat task, its soft failures, and the once-a-day loop
`serve --supervise` runs (in process, and in a real server against the Angel One peer)."""

import asyncio
import logging
import signal
import socket
import threading
from datetime import datetime, time

import pytest
import time_machine

from marketdata.market_calendar import IST
from marketdata.models import Instrument
from marketdata.ops import instrument_master
from marketdata.ops.instrument_master import instruments_sync_due, instruments_sync_forever
from marketdata.tasks import instruments_sync_daily
from marketdata.tests.feed.feedprocess import feed_database, feed_env, feed_finish, feed_start
from testing.waiting import wait_until

MORNING = datetime(2025, 1, 6, 8, 30, tzinfo=IST)


@pytest.fixture(autouse=True)
def daily_sync_on(settings) -> None:
    """As shipped, whatever a developer's .env says."""
    settings.INSTRUMENTS_SYNC_DAILY = True
    settings.INSTRUMENTS_SYNC_AT = time(8, 30)


@pytest.fixture
def master_url(settings, angelone_peer) -> str:
    settings.ANGEL_ONE_SCRIP_MASTER_URL = angelone_peer.master_url
    return angelone_peer.master_url


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/OpenAPIScripMaster.json"


@pytest.mark.django_db
def test_the_daily_task_syncs_the_master_from_its_url(master_url, angelone_peer):
    result = instruments_sync_daily.apply().get()

    assert result == {"created": 6, "updated": 0, "removed": 0, "skipped": 1}  # one expired
    assert Instrument.objects.filter(exchange="BFO", instrument_type="OPTIDX").count() == 1
    assert angelone_peer.master_requests == 1


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["no network", "refused", "cut short"])
def test_a_failed_download_is_a_warning_and_changes_nothing(
    failure, master_url, angelone_peer, settings, caplog
):
    instruments_sync_daily.apply().get()
    loaded = Instrument.objects.count()
    if failure == "no network":
        settings.ANGEL_ONE_SCRIP_MASTER_URL = closed_port_url()
    angelone_peer.master_status = 503 if failure == "refused" else 200
    angelone_peer.master_cut = failure == "cut short"
    angelone_peer.master_records = []

    with caplog.at_level(logging.WARNING, logger="marketdata.ops.instrument_master"):
        assert instruments_sync_daily.apply().get() is None

    assert Instrument.objects.count() == loaded
    [warning] = [r for r in caplog.records if r.name == "marketdata.ops.instrument_master"]
    assert warning.levelno == logging.WARNING
    assert "the next sync is tomorrow" in warning.getMessage()


@pytest.mark.django_db
def test_the_daily_sync_can_be_turned_off(master_url, angelone_peer, settings):
    settings.INSTRUMENTS_SYNC_DAILY = False

    assert instruments_sync_daily.apply().get() is None
    assert angelone_peer.master_requests == 0


def test_the_sync_is_due_once_a_day_from_its_time(settings):
    day = MORNING.date()

    assert not instruments_sync_due(now=MORNING.replace(minute=29), last_day=None)
    assert instruments_sync_due(now=MORNING, last_day=None)
    assert instruments_sync_due(now=MORNING.replace(hour=14), last_day=day.replace(day=5))
    assert not instruments_sync_due(now=MORNING.replace(hour=14), last_day=day)
    settings.INSTRUMENTS_SYNC_DAILY = False
    assert not instruments_sync_due(now=MORNING, last_day=None)


def test_the_in_process_loop_syncs_once_a_day_and_outlives_a_failed_sync(monkeypatch, caplog):
    monkeypatch.setattr(instrument_master, "CHECK_SECONDS", 0.01)
    runs: list[str] = []

    def job() -> None:
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            raise RuntimeError("database unavailable")

    async def two_days(traveller) -> None:
        stop = asyncio.Event()
        loop_task = asyncio.ensure_future(instruments_sync_forever(stop=stop, job=job))
        await asyncio.sleep(0.3)  # some thirty passes on the first day
        assert len(runs) == 1
        traveller.move_to(MORNING.replace(day=7, hour=9))
        while len(runs) < 2:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(loop_task, timeout=5)

    with time_machine.travel(MORNING, tick=False) as traveller:
        asyncio.run(asyncio.wait_for(two_days(traveller), timeout=10))

    assert runs == ["instrument-master-sync"] * 2  # off the event loop's thread
    assert "database unavailable" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_serve_supervise_syncs_the_master_at_its_time(tmp_path, angelone_peer, feed_sandbox):
    database = feed_database(tmp_path)
    env = feed_env(
        database=database.url, log_dir=tmp_path, REDIS_URL="", INSTRUMENTS_SYNC_DAILY="true",
        INSTRUMENTS_SYNC_AT="00:00", ANGEL_ONE_SCRIP_MASTER_URL=angelone_peer.master_url,
    )  # fmt: skip
    process = feed_start("serve", ["--port=0", "--source=simulated", "--supervise"], env)

    def loaded() -> bool:
        database.sync()
        return Instrument.objects.filter(exchange="BFO").exists()

    wait_until(loaded, timeout=30, what="the instruments of the peer's master")
    process.send_signal(signal.SIGTERM)
    status, log = feed_finish(process)
    assert status == 0, log
    assert angelone_peer.master_requests == 1
