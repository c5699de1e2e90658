"""Every query compiles to MQL on MongoDB, without a server (issue 15).

`compile_probe` runs in its own process with MONGODB_URL set, since the settings pick the
backend at import. The MQL of the key queries is kept in `golden/`, so a change to what MongoDB
is sent shows in the diff; rewrite them with `UPDATE_GOLDEN=1 pytest signals/tests/mongodb`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trading_signals.settings.environment import BASE_DIR

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("mql") / "compiled.json"
    # Port 1 has no server: anything sent instead of recorded fails the run.
    env = {**os.environ, "MONGODB_URL": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-m", "signals.tests.mongodb.compile_probe", str(out)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.exists(), run.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_every_path_compiles_without_a_compile_error(probe: dict[str, Any]) -> None:
    failures = probe["failures"]
    assert not failures, "\n\n".join(f"{name}:\n{trace}" for name, trace in failures.items())
    assert len(probe["compiled"]) >= 17  # jobs, API filters and orderings, admin changelists


KEY_QUERIES = [
    "latest",
    "symbol_page",
    "statistics",
    "signal_performance",
    "signal_list",
    "ticks_previous",
    *(f"chart_{interval}" for interval in ("1m", "3m", "5m", "15m", "30m", "1h", "1d")),
]


@pytest.mark.parametrize("name", KEY_QUERIES)
def test_key_query_mql_matches_its_golden_file(probe: dict[str, Any], name: str) -> None:
    compiled = probe["queries"][name]
    assert compiled, f"{name} sent nothing to MongoDB"
    path = GOLDEN / f"{name}.json"
    text = json.dumps(compiled, indent=1) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1"
    assert json.loads(path.read_text()) == compiled, (
        f"{name}'s MQL changed; if intended, rewrite with UPDATE_GOLDEN=1 and review the diff"
    )
