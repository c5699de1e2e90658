"""What the benchmarks share: Django set-up and one child process per SQL backend."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marketdata.market_calendar import INDICES  # noqa: E402 - needs ROOT on the path

# symbol -> (token, WebSocket exchange type), for the six streamed indices.
INDEX_TOKENS = {symbol: (token, kind) for token, symbol, _name, _exchange, kind in INDICES}


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")
    os.environ.pop("MONGODB_URL", None)
    import django

    django.setup()


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
