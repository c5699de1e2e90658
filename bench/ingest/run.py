"""Ingestion throughput: normalized ticks -> stored rows through `tick_ingest`.

Run from the repository root: `.venv/bin/python bench/ingest/run.py`. It measures SQLite (a
fresh file database) and PostgreSQL (a throw-away `test_` database next to
BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/trading_signals), each in its
own process. 10% of every batch are duplicates: half re-sent from the previous batch, half
repeated within the batch.
"""

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import bench_database, index_tokens, per_backend_main, setup_django

BATCH_SIZE = 2000
BATCHES = 100
SESSION_OPEN = datetime(2025, 1, 6, 9, 15, tzinfo=ZoneInfo("Asia/Kolkata"))


def _fresh_ticks(start: int, count: int) -> list:
    """`count` ticks in time order: the six symbols in turn, 25 ms apart."""
    from marketdata.ticks import Tick

    symbols = {symbol: token for symbol, (token, _kind) in index_tokens().items()}
    names = list(symbols)
    ticks = []
    for i in range(start, start + count):
        symbol = names[i % len(names)]
        price = 20000.0 + (i % 500) * 0.05
        ticks.append(
            Tick(
                token=symbols[symbol], symbol=symbol, ltpc=price, open=price, high=price + 50,
                low=price - 50, close=19990.0, volume=None, exchange="", is_realtime=True,
                received_at=SESSION_OPEN + timedelta(milliseconds=25 * i),
            )
        )  # fmt: skip
    return ticks


def _batches() -> list[list]:
    fresh_per_batch = BATCH_SIZE * 9 // 10
    resent, repeated = (BATCH_SIZE - fresh_per_batch) // 2, BATCH_SIZE - fresh_per_batch
    batches, previous = [], []
    for b in range(BATCHES):
        fresh = _fresh_ticks(b * fresh_per_batch, fresh_per_batch)
        duplicates = previous[-resent:] + fresh[: repeated - len(previous[-resent:])]
        batches.append(duplicates + fresh)  # mostly in time order, like a reconnect replay
        previous = fresh
    return batches


def measure(backend: str, args: argparse.Namespace) -> None:
    setup_django()
    from marketdata.models import MarketData
    from marketdata.services import tick_ingest

    with bench_database(backend):
        batches = _batches()
        sent = sum(len(batch) for batch in batches)
        stored = duplicates = 0
        started = time.perf_counter()
        for batch in batches:
            result = tick_ingest(ticks=batch)
            stored, duplicates = stored + len(result.stored), duplicates + result.duplicates
        elapsed = time.perf_counter() - started
        assert stored == MarketData.objects.count() == sent - duplicates, "lost or doubled ticks"
        print(
            f"{backend:<10} batch size {BATCH_SIZE}: {sent} ticks ({duplicates} duplicates) in "
            f"{elapsed:.2f} s = {sent / elapsed:,.0f} ticks/s, {stored / elapsed:,.0f} rows/s"
        )


def main() -> None:
    per_backend_main(
        __file__,
        __doc__,
        measure,
        banner=f"tick_ingest, {BATCHES} batches, 10% duplicates, target >= 20,000 ticks/s",
    )


if __name__ == "__main__":
    main()
