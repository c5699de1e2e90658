"""`manage.py run_feed` end to end, as a real process against the test database and Redis."""

import signal
from datetime import timedelta

import pytest
from django.db import connection

from marketdata.feed.heartbeat import heartbeat_read
from marketdata.models import MarketData
from marketdata.tests.conftest import TRADING_DAY, make_ticks
from marketdata.tests.feed.feedprocess import (
    TcpProxy,
    database_url,
    feed_database,
    feed_env,
    feed_finish,
    feed_start,
    recording_write,
)
from testing.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_sandbox")]


@pytest.fixture
def database(tmp_path):
    return feed_database(tmp_path)


@pytest.fixture
def proxy():
    """The PostgreSQL server behind a proxy the test can cut (SQLite has no server to lose)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite is a local file: there is no database server to go away")
    proxy = TcpProxy(target_port=int(connection.settings_dict["PORT"] or 5432))
    yield proxy
    proxy.close()


def test_replayed_ticks_are_stored_and_the_feed_exits_0(database, log_dir, tmp_path):
    ticks = make_ticks(30, "NIFTY") + make_ticks(20, "SENSEX")
    recording = recording_write(tmp_path / "session.jsonl", ticks)

    process = feed_start(
        "run_feed",
        ["--source", "replay", "--file", str(recording), "--speed", "0"],
        feed_env(database=database.url, log_dir=log_dir),
    )
    status, log = feed_finish(process)

    assert status == 0, log
    database.sync()
    assert MarketData.objects.filter(symbol="NIFTY").count() == 30
    assert MarketData.objects.filter(symbol="SENSEX").count() == 20
    beat = heartbeat_read()
    assert beat["state"] == "stopped", (beat, log)
    assert (beat["received"], beat["stored"], beat["dropped"]) == (50, 50, 0)


def test_sigterm_stores_the_buffered_ticks_then_exits_0(database, log_dir, tmp_path):
    # 40 ticks within 40 ms at this speed, then one a trading day later: the replay holds
    # still with 40 buffered, and the flush settings keep them from being written before the signal.
    ticks = make_ticks(40, "NIFTY", start=TRADING_DAY - timedelta(days=3))
    ticks += make_ticks(1, "BANKNIFTY", start=TRADING_DAY)
    recording = recording_write(tmp_path / "session.csv", ticks)
    env = feed_env(
        database=database.url, log_dir=log_dir, FEED_FLUSH_MS=600_000, FEED_FLUSH_TICKS=10_000
    )

    process = feed_start(
        "run_feed", ["--source", "replay", "--file", str(recording), "--speed", "1000"], env
    )
    wait_until(
        lambda: (heartbeat_read() or {}).get("buffered") == 40, what="40 buffered ticks", timeout=15
    )
    process.send_signal(signal.SIGTERM)
    status, log = feed_finish(process)

    assert status == 0, log
    database.sync()
    assert MarketData.objects.filter(symbol="NIFTY").count() == 40, log
    assert heartbeat_read()["state"] == "stopped"


def test_simulated_feed_records_what_it_stores(database, log_dir, tmp_path):
    recording = tmp_path / "simulated.jsonl"

    process = feed_start(
        "run_feed",
        [
            "--source=simulated",
            "--symbols=NIFTY,BANKEX",
            "--ignore-market-hours",
            "--duration=1.5",
            f"--record={recording}",
        ],
        feed_env(database=database.url, log_dir=log_dir),
    )
    status, log = feed_finish(process)

    assert status == 0, log
    database.sync()
    recorded = recording.read_text().splitlines()
    assert len(recorded) >= 2
    assert MarketData.objects.count() == len(recorded)
    assert set(MarketData.objects.values_list("symbol", flat=True)) == {"NIFTY", "BANKEX"}
    assert set(MarketData.objects.values_list("source", flat=True)) == {"simulated"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--source", "replay", "--file", "/nonexistent.jsonl"], "--file"),
        (["--source", "simulated", "--symbols", "NIFTY,NOPE"], "NOPE"),
        (["--source", "simulated", "--interval", "0"], "--interval"),
    ],
)
def test_bad_options_exit_2_naming_the_option(database, log_dir, args, named):
    process = feed_start("run_feed", args, feed_env(database=database.url, log_dir=log_dir))

    status, log = feed_finish(process)

    assert status == 2
    assert named in log


def test_ticks_received_while_the_database_is_away_are_stored_when_it_returns(
    database, proxy, log_dir, tmp_path
):
    # 20 ticks, then 40 more three seconds later (at this speed): the database is cut between.
    friday = TRADING_DAY - timedelta(days=3)
    ticks = make_ticks(20, "NIFTY", start=friday)
    ticks += make_ticks(40, "BANKNIFTY", start=friday + timedelta(seconds=300))
    recording = recording_write(tmp_path / "session.jsonl", ticks)
    env = feed_env(database=database_url(port=proxy.port), log_dir=log_dir)
    process = feed_start(
        "run_feed", ["--source", "replay", "--file", str(recording), "--speed", "100"], env
    )

    wait_until(
        lambda: (heartbeat_read() or {}).get("stored") == 20, what="the first 20 stored", timeout=15
    )
    proxy.cut()
    away = wait_until(
        lambda: _beat_matching(received=60, database="unavailable"),
        what="the outage noticed",
        timeout=15,
    )
    proxy.restore()
    status, log = feed_finish(process)

    assert status == 0, log
    assert away["stored"] == 20
    assert MarketData.objects.count() == 60
    assert heartbeat_read()["dropped"] == 0


def test_ticks_beyond_the_buffer_bound_are_dropped_counted_and_logged(
    database, proxy, log_dir, tmp_path
):
    recording = recording_write(tmp_path / "session.jsonl", make_ticks(60, "NIFTY"))
    env = feed_env(
        database=database_url(port=proxy.port),
        log_dir=log_dir,
        FEED_BUFFER_MAX_TICKS=25,
        FEED_FLUSH_TICKS=10,
    )
    proxy.cut()
    process = feed_start(
        "run_feed", ["--source", "replay", "--file", str(recording), "--speed", "0"], env
    )

    wait_until(
        lambda: _beat_matching(received=60, database="unavailable"),
        what="the outage noticed",
        timeout=15,
    )
    proxy.restore()
    status, log = feed_finish(process)

    assert status == 0, log
    assert MarketData.objects.count() == 25
    assert heartbeat_read()["dropped"] == 35
    assert "Dropped 35 ticks" in log


def _beat_matching(**expected):
    beat = heartbeat_read() or {}
    return beat if all(beat.get(key) == value for key, value in expected.items()) else None
