"""What the benchmarks share: Django set-up, a throw-away database, and one child process per
SQL backend behind the same command line."""

import argparse
import os
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


def run_per_backend(script: str, *, sqlite_url: str, args: list[str], env: dict[str, str]) -> None:
    """Run `script --backend B *args` for SQLite then PostgreSQL, each in a fresh process
    (settings pick the database when Django starts)."""
    for backend, url in [("sqlite", sqlite_url), ("postgresql", postgres_url())]:
        child_env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "ERROR", **env}
        command = [sys.executable, script, "--backend", backend, *args]
        subprocess.run(command, env=child_env, check=True)


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
    if args.backend:
        measure(args.backend, args)
        return
    if banner:
        print(banner)
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
