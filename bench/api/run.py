"""API latency with 1,000,000 stored ticks: `latest`, `symbol/{symbol}` and a day of 1m candles.

Run from the repository root: `.venv/bin/python bench/api/run.py`. Each backend runs in its
own process against a kept database (SQLite: BENCH_SQLITE_PATH, default
/tmp/trading_signals_bench_api.sqlite3; PostgreSQL: `test_` + the database of
BENCH_POSTGRES_URL), filled once through `tick_ingest` and reused by later runs. Requests go
through the whole Django stack (middleware, JWT authentication, DRF) via the test client.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import bench_database, index_tokens, per_backend_main, setup_django

IST = ZoneInfo("Asia/Kolkata")
TOTAL_TICKS = 1_000_000
FIRST_DAY = date(2025, 1, 6)
RUNS = 50


def _trading_days():
    from marketdata.market_calendar import market_session

    day = FIRST_DAY
    while True:
        if market_session(exchange="NSE", day=day) and market_session(exchange="BSE", day=day):
            yield day
        day += timedelta(days=1)


def _fill() -> date:
    """One tick a second per symbol through each session, until TOTAL_TICKS; the last day."""
    from marketdata.models import MarketData
    from marketdata.services import tick_ingest
    from marketdata.ticks import Tick

    symbols = {symbol: token for symbol, (token, _kind) in index_tokens().items()}
    stored = MarketData.objects.count()
    if stored >= TOTAL_TICKS:
        return MarketData.objects.latest("received_at").received_at.astimezone(IST).date()
    MarketData.objects.all().delete()
    started, remaining = time.perf_counter(), TOTAL_TICKS
    for day in _trading_days():
        opens = datetime.combine(day, datetime.min.time(), tzinfo=IST) + timedelta(
            hours=9, minutes=15
        )
        seconds = min(22_501, -(-remaining // len(symbols)))
        for chunk in range(0, seconds, 1000):
            ticks = [
                Tick(token=token, symbol=symbol, ltpc=20000.0 + (s % 600) * 0.5, exchange="",
                     received_at=opens + timedelta(seconds=s), volume=s * 10, close=19990.0)
                for s in range(chunk, min(chunk + 1000, seconds))
                for symbol, token in symbols.items()
            ][:remaining]  # fmt: skip
            remaining -= len(tick_ingest(ticks=ticks).stored)
        if remaining <= 0:
            print(f"  stored {TOTAL_TICKS:,} ticks in {time.perf_counter() - started:.0f} s")
            return day
    raise AssertionError("unreachable")


def _median_ms(client, path: str, headers: dict) -> float:
    timings = []
    for _ in range(RUNS + 3):
        started = time.perf_counter()
        response = client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
    return statistics.median(timings[3:])


def _plans(day: date) -> None:
    from django.db import connection

    from marketdata import selectors, storage
    from marketdata.models import MarketData

    latest = MarketData.objects.filter(symbol="NIFTY").order_by("-received_at")[:1]
    page = selectors.ticks_filter(symbols=["NIFTY"]).order_by("-received_at")[:101]
    print("  plan, latest (one per symbol):", latest.explain().replace("\n", " | "))
    print("  plan, symbol first page:      ", page.explain().replace("\n", " | "))
    start = datetime.combine(day, datetime.min.time(), tzinfo=IST)
    sql = storage._CANDLES_SQL.format(
        epoch=storage._EPOCH_SQL[connection.vendor], offset=storage.IST_OFFSET_SECONDS
    )
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            explain + sql, [60, 60, "NIFTY", adapt(start), adapt(start + timedelta(days=1))]
        )
        lines = [" ".join(str(part) for part in row) for row in cursor.fetchall()]
    print("  plan, chart:                  ", " | ".join(lines))


def measure(backend: str, args: argparse.Namespace) -> None:
    setup_django()
    from django.db import connection
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User

    with bench_database(backend, keep=True):
        day = _fill()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE market_data")  # planner statistics, as autovacuum would keep
        user, _ = User.objects.get_or_create(email="bench@example.com", defaults={"name": "Bench"})
        headers = {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}
        client = Client()
        api = "/api/v1/market-data"
        chart = f"{api}/chart/NIFTY?interval=1m&from={day.isoformat()}&to={(day + timedelta(days=1)).isoformat()}"
        print(f"{backend}: {RUNS} requests each, median (target)")
        print(
            f"  latest                {_median_ms(client, f'{api}/latest', headers):6.1f} ms (< 20)"
        )
        print(
            f"  symbol/NIFTY page 1   {_median_ms(client, f'{api}/symbol/NIFTY', headers):6.1f} ms (< 20)"
        )
        print(f"  chart 1m, one day     {_median_ms(client, chart, headers):6.1f} ms (< 100)")
        _plans(day)


def main() -> None:
    default_sqlite = Path(tempfile.gettempdir()) / "trading_signals_bench_api.sqlite3"
    sqlite = os.environ.get("BENCH_SQLITE_PATH", str(default_sqlite))
    per_backend_main(__file__, __doc__, measure, sqlite_path=sqlite)


if __name__ == "__main__":
    main()
