"""Django on MongoDB with mongomock as the server (issue 15): the MongoDB migration set applied
by the backend's schema editor creates the seed's indexes, `tick_ingest` stores through the
backend's field conversion and counts duplicates, the signals history made through the
services gives the same performance figures as on SQL, and what mongomock cannot run is
skipped with its reason.

`mongomock_probe` runs in its own process, since the settings pick the backend at import.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signals.selectors import signal_performance
from signals.tests.mongodb.mongomock_probe import PERFORMANCE_RANGE

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("mongomock") / "probe.json"
    env = {**os.environ, "MONGODB_URL": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-m", "signals.tests.mongodb.mongomock_probe", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.exists(), run.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _step(probe: dict[str, Any], name: str) -> Any:
    step = probe[name]
    if "skipped" in step:
        pytest.skip(step["skipped"])
    assert "ok" in step, step.get("error")
    return step["ok"]


def test_the_migration_set_creates_the_seeds_indexes(probe):
    indexes = _step(probe, "indexes")

    market_data = indexes["market_data"]
    assert market_data["symbol_receivedAt_unique"] == {
        "key": [["symbol", 1], ["received_at", 1]],
        "unique": True,
    }
    assert market_data["received_at_-1"]["key"] == [["received_at", -1]]
    assert {"tk_1", "tk_1_received_at_-1", "source_1", "processed_1"} <= market_data.keys()
    assert indexes["users"]["email_1"]["unique"] is True
    assert {"user_id_1_status_1", "created_at_-1"} <= indexes["signals"].keys()
    assert indexes["instruments"]["exchange_1_token_1"]["unique"] is True


def test_tick_ingest_on_mongodb_stores_each_moment_once_and_counts_duplicates(probe):
    ticks = _step(probe, "ticks")

    assert ticks["stored"] == 5
    # The second batch repeated seconds 3 and 4 (stored: the migration's unique index refused
    # them) and gave 5 twice: only 5 and 6 were new.
    assert ticks["new_of_second_batch"] == [
        "2025-03-03T04:00:05+00:00",
        "2025-03-03T04:00:06+00:00",
    ]
    assert ticks["duplicates_of_second_batch"] == 3
    assert ticks["count"] == 7
    assert ticks["latest"] == [["NIFTY", "2025-03-03T04:00:06+00:00", 23506.0]]


def _without_author_ids(figures: dict[str, Any]) -> dict[str, Any]:
    """Authors' ids are ObjectIds on MongoDB and integers on SQL; their names are compared."""
    by_author = [{k: v for k, v in row.items() if k != "user_id"} for row in figures["by_author"]]
    return {**figures, "by_author": by_author}


@pytest.mark.django_db
def test_signal_performance_on_mongodb_gives_what_sql_gives(probe, history):
    """The probe stored this very history through the services, on MongoDB (mongomock)."""
    on_mongodb = _step(probe, "performance")
    start, end = PERFORMANCE_RANGE
    on_sql = json.loads(json.dumps(signal_performance(start=start, end=end), default=str))

    assert _without_author_ids(on_mongodb) == _without_author_ids(on_sql)
    # Figures, not two empty lists: the desk's NIFTY calls (+30, -20), the analyst's SELL (+30).
    assert [
        (row["underlying"], row["count"], row["wins"], row["total_points"])
        for row in on_mongodb["by_underlying"]
    ] == [("BANKNIFTY", 1, 1, 30.0), ("NIFTY", 2, 1, 10.0)]
    # Rupees (points x lots x lot size) and the IST days of the closes: the same on both.
    assert [(row["signal_type"], row["total_rupees"]) for row in on_mongodb["by_signal_type"]] == [
        ("BUY", 1500.0),
        ("SELL", 2100.0),
    ]
    assert [(row["period_start"], row["count"]) for row in on_mongodb["by_period"]] == [
        ("2025-03-03", 3)
    ]
