"""What the benchmarks share: Django set-up, a throw-away database, and one child process per
SQL backend behind the same command line."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BACKENDS = ("sqlite", "postgresql")


def setup_django() -> None:
    """Django's settings from the environment as it is now, on SQL (never MONGODB_URL)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")
    os.environ.pop("MONGODB_URL", None)
    import django

    django.setup()


@cache
def index_tokens() -> dict[str, tuple[str, int]]:
    """symbol -> (token, WebSocket exchange type), for the six streamed indices.

    marketdata keeps the table beside its models: call this once Django is set up.
    """
    from marketdata.market_calendar import INDICES

    return {symbol: (token, kind) for token, symbol, _name, _exchange, kind in INDICES}


def postgres_url() -> str:
    return os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/trading_signals"
    )


def machine_note() -> str:
    """The cores and the load on them when a benchmark starts: figures on a shared machine
    move with what else runs."""
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, load average {load:.1f} (1 min) at the start"


def child_run(command: list[str], env: dict[str, str]) -> None:
    """Run a benchmark's child process to its end; exit if it fails. If this process is
    stopped (SIGINT, SIGTERM), stop the child with SIGTERM and wait, so that it stops what it
    started itself (servers, feeds) before it exits."""
    child = subprocess.Popen(command, env=env)
    try:
        status = child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    if status != 0:
        sys.exit(f"{' '.join(command[1:4])} failed with status {status}")


def stop_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so `finally` blocks clean up as they do on Ctrl-C."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def run_per_backend(script: str, *, sqlite_url: str, args: list[str], env: dict[str, str]) -> None:
    """Run `script --backend B *args` for SQLite then PostgreSQL, each in a fresh process
    (settings pick the database when Django starts)."""
    for backend, url in [("sqlite", sqlite_url), ("postgresql", postgres_url())]:
        child_env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "ERROR", **env}
        child_run([sys.executable, script, "--backend", backend, *args], child_env)


@contextmanager
def bench_database(backend: str, *, keep: bool = False) -> Iterator[None]:
    """Django's test database for `backend`, migrated: for SQLite the configured file itself
    (not the in-memory default), for PostgreSQL `test_` + the configured name. Created afresh
    and destroyed afterwards; with `keep`, reused if it exists and kept."""
    from django.db import connection

    if backend == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep)
    try:
        yield
    finally:
        if not keep:
            connection.creation.destroy_test_db(name, verbosity=0)


def per_backend_main(
    script: str,
    description: str | None,
    measure: Callable[[str, argparse.Namespace], None],
    *,
    options: Sequence[tuple[str, dict[str, Any]]] = (),
    sqlite_path: str | None = None,
    env: dict[str, str] | None = None,
    banner: str | None = None,
) -> None:
    """The command line of a benchmark measured on each SQL backend.

    With `--backend B` (how `run_per_backend` calls the script) it runs `measure(B, args)` in
    this process. Without, it prints `banner` and runs the script once per backend, passing on
    `options` (flag and `add_argument` keywords each), with `env` and LOG_DIR in a temporary
    folder; SQLite uses `sqlite_path`, or a fresh file in that folder.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=BACKENDS, help="measure this backend only, here")
    for flag, keywords in options:
        parser.add_argument(flag, **keywords)
    args = parser.parse_args()
    stop_on_sigterm()
    if args.backend:
        measure(args.backend, args)
        return
    if banner:
        print(banner)
    print(machine_note())
    passed_on = []
    for flag, _keywords in options:
        passed_on += [flag, str(getattr(args, flag.lstrip("-").replace("-", "_")))]
    with tempfile.TemporaryDirectory() as tmp:
        run_per_backend(
            script,
            sqlite_url=f"sqlite:///{sqlite_path or Path(tmp) / 'bench.sqlite3'}",
            args=passed_on,
            env={"LOG_DIR": tmp, **(env or {})},
        )
