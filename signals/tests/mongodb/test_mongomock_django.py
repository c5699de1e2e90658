"""Django on MongoDB with mongomock as the server (issue 15): the MongoDB migration set applied
by the backend's schema editor creates the seed's indexes, the tick insert goes through the
backend's field conversion, and what mongomock cannot run is skipped with its reason.

`mongomock_probe` runs in its own process, since the settings pick the backend at import.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def test_tick_insert_through_the_backend_stores_each_moment_once(probe):
    ticks = _step(probe, "ticks")

    assert ticks["stored"] == 5
    # The second batch repeated seconds 3 and 4: only 5 and 6 were new.
    assert ticks["new_of_second_batch"] == [
        "2025-03-03T10:00:05+00:00",
        "2025-03-03T10:00:06+00:00",
    ]
    assert ticks["count"] == 7
    assert ticks["latest"] == [["NIFTY", "2025-03-03T10:00:06+00:00", 23506.0]]


def test_signal_performance_runs_the_compiled_aggregation(probe):
    by_underlying = {row["underlying"]: row for row in _step(probe, "performance")}

    nifty = by_underlying["NIFTY"]
    assert (nifty["count"], nifty["wins"], nifty["total_points"]) == (3, 2, 40.0)
