"""The instrument master at full size: a synthetic 150,000-row OpenAPIScripMaster.json
(bench/instruments/master.py) synced from a file with `manage.py sync_instruments --file`.

Run from the repository root: `.venv/bin/python bench/instruments/run.py [--rows N]`. Each
backend runs in its own process on a fresh database (SQLite: a file; PostgreSQL: `test_` +
the database of BENCH_POSTGRES_URL). Every sync is a process of its own, so its peak memory
is that process's peak resident set (`ru_maxrss`, read with os.wait4), and its time is the
whole command, Django's start included. In order:

1. the anchor: the old approach (bench/instruments/old_sync.py: json.loads, and every
   instrument in a dict) on the empty table, then again on what it loaded; then the table is
   emptied (but the seeded indices);
2. the first sync (targets: under 60 s, peak memory under 300 MB);
3. a re-sync of the same master (targets: under 20 s and 300 MB, nothing written).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import ROOT, bench_database, per_backend_main, setup_django

ROWS = 150_000
FIRST_SECONDS, RESYNC_SECONDS, PEAK_MB = 60.0, 20.0, 300.0
SUMMARY = re.compile(r"Instruments: (\d+) created, (\d+) updated, (\d+) removed, (\d+) skipped")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    counts: tuple[int, int, int, int]  # created, updated, removed, skipped


def _measured(command: list[str], env: dict[str, str]) -> Run:
    """Run `command` to its end; its wall time, its own peak RSS and the summary it printed."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    found = SUMMARY.search(output)
    if child.returncode != 0 or found is None:
        sys.exit(f"{' '.join(command[1:3])} failed ({child.returncode}): {output}")
    counts = (int(found[1]), int(found[2]), int(found[3]), int(found[4]))
    return Run(seconds, usage.ru_maxrss / 1024, counts)  # Linux reports kilobytes


def _database_url(backend: str) -> str:
    from django.db import connection

    config = connection.settings_dict
    if backend == "sqlite":
        return f"sqlite:///{config['NAME']}"
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    host, port = config["HOST"] or "127.0.0.1", config["PORT"] or 5432
    return f"postgres://{config['USER']}{password}@{host}:{port}/{config['NAME']}"


def _unsubscribed_clear() -> None:
    """Empty the table but the seeded indices, between the anchor and the measured sync (set-up,
    not measured; nothing references an instrument here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM instruments WHERE NOT subscribed")


def _verdict(value: float, target: float) -> str:
    return "meets" if value < target else "MISSES"


def _report(backend: str, rows: int, size: int, runs: dict[str, Run]) -> bool:
    first, again = runs["first sync"], runs["re-sync"]
    wrote = again.counts[:3] != (0, 0, 0)
    print(f"{backend}: {rows:,} rows, {size / 1e6:.1f} MB of JSON")
    for name, run in runs.items():
        created, updated, removed, skipped = run.counts
        print(
            f"  {name:<22} {run.seconds:6.1f} s  peak {run.peak_mb:6.1f} MB  "
            f"({created:,} created, {updated:,} updated, {removed:,} removed, {skipped:,} skipped)"
        )
    checks = [
        (f"first sync {first.seconds:.1f} s < {FIRST_SECONDS:.0f} s", first.seconds, FIRST_SECONDS),
        (f"first sync peak {first.peak_mb:.0f} MB < {PEAK_MB:.0f} MB", first.peak_mb, PEAK_MB),
        (f"re-sync {again.seconds:.1f} s < {RESYNC_SECONDS:.0f} s", again.seconds, RESYNC_SECONDS),
        (f"re-sync peak {again.peak_mb:.0f} MB < {PEAK_MB:.0f} MB", again.peak_mb, PEAK_MB),
    ]
    for text, value, target in checks:
        print(f"  target: {text}: {_verdict(value, target)}")
    print(f"  target: re-sync writes nothing: {'MISSES' if wrote else 'meets'}")
    old_first, old_again = runs["old: first sync"], runs["old: re-sync"]
    print(
        f"  anchor: json.loads peak {old_first.peak_mb:.0f} MB (first), {old_again.peak_mb:.0f} MB"
        f" (re-sync): streaming uses {first.peak_mb / old_first.peak_mb:.0%} and "
        f"{again.peak_mb / old_again.peak_mb:.0%} of it"
    )
    return not wrote and all(value < target for _text, value, target in checks)


def measure(backend: str, args: argparse.Namespace) -> None:
    setup_django()
    from bench.instruments.master import master_write
    from marketdata.market_calendar import IST

    with tempfile.TemporaryDirectory() as tmp, bench_database(backend):
        path = Path(tmp) / "OpenAPIScripMaster.json"
        size = master_write(path, rows=args.rows, today=datetime.now(tz=IST).date())
        env = {k: v for k, v in os.environ.items() if k != "MONGODB_URL"}
        env["DATABASE_URL"] = _database_url(backend)
        manage = [sys.executable, str(ROOT / "manage.py"), "sync_instruments", "--file", str(path)]
        old = [sys.executable, str(Path(__file__).with_name("old_sync.py")), str(path)]
        runs = {"old: first sync": _measured(old, env), "old: re-sync": _measured(old, env)}
        _unsubscribed_clear()
        runs["first sync"] = _measured(manage, env)
        runs["re-sync"] = _measured(manage, env)
        if not _report(backend, args.rows, size, runs):
            sys.exit(f"bench/instruments: a target is missed on {backend}")


def main() -> None:
    per_backend_main(
        __file__,
        __doc__,
        measure,
        options=[("--rows", {"type": int, "default": ROWS, "help": "rows in the master"})],
        banner=(
            "sync_instruments --file, a synthetic master: first sync < 60 s and re-sync < 20 s, "
            "peak RSS < 300 MB, re-sync writes nothing; anchor: the old json.loads approach"
        ),
    )


if __name__ == "__main__":
    main()
