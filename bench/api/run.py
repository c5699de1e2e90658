"""API latency with 1,000,000 stored ticks, skewed as a real store is: six busy indices and
2,000 quiet options. Measures `latest` (the streamed indices; 50 symbols mixing indices and
options, against the old one-query-per-symbol way; 200, the cap), `symbol/{symbol}` (a busy
index, a quiet option, and a busy index that has not traded lately, against the old query
not bounded by its newest tick), a day of 1m candles, and the expensive reads of issue 13:
`statistics` (reused for MARKET_STATISTICS_CACHE_SECONDS, against computing it for every
request), a ten-year 1d chart (stored daily candles, against reading every tick) and a
10,000-candle 15m chart (closed days' candles kept, against reading them all from ticks with
the new query and with the old two-window-function one); and prints the plans.

Run from the repository root: `.venv/bin/python bench/api/run.py`. Each backend runs in its
own process against a kept database (SQLite: BENCH_SQLITE_PATH, default
/tmp/trading_signals_bench_api.sqlite3; PostgreSQL: `test_` + the database of
BENCH_POSTGRES_URL), filled once through `tick_ingest` and reused by later runs. Requests go
through the whole Django stack (middleware, JWT authentication, DRF) via the test client.

The data set: 2,000 NFO index options (`NIFTY30JAN2524000CE`...), 5 ticks each; the even
ones trade only in the first session (nearly all of the 1,000,000 ticks are newer than
their newest), the odd ones once in each of the first five sessions. The indices get one
tick a second each through every session until 1,000,000 ticks in all, except that in the
last session only the NSE ones trade (as if BSE were shut): SENSEX is busy but not recent.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import bench_database, index_tokens, per_backend_main, setup_django

IST = ZoneInfo("Asia/Kolkata")
TOTAL_TICKS = 1_000_000
FIRST_DAY = date(2025, 1, 6)
RUNS = 50
SESSION_SECONDS = 22_501  # 09:15:00 to 15:30:00 IST, both ends inclusive
BATCH_SECONDS = 1000  # of every symbol's ticks per tick_ingest call

OPTIONS = 2000
TICKS_PER_OPTION = 5
OPTION_EXPIRY = date(2025, 1, 30)
OPTION_TOKENS = 700_000  # the first option's token; the others follow
# (underlying, first strike, strike step): 500 strikes x CE/PE each.
UNDERLYINGS = [("NIFTY", 20_000, 50), ("BANKNIFTY", 40_000, 100)]

API = "/api/v1/market-data"


def _options() -> dict[str, tuple[str, int]]:
    """symbol -> (underlying, strike) of the options, in Angel One's way of naming them."""
    code = OPTION_EXPIRY.strftime("%d%b%y").upper()
    strikes = OPTIONS // len(UNDERLYINGS) // 2
    return {
        f"{underlying}{code}{first + step * n}{kind}": (underlying, first + step * n)
        for underlying, first, step in UNDERLYINGS
        for n in range(strikes)
        for kind in ("CE", "PE")
    }


OPTION_SYMBOLS = list(_options())
QUIET_OPTION = OPTION_SYMBOLS[0]  # 5 ticks, all in the first session
NSE_TYPE = 1  # the WebSocket exchange type of the NSE indices
STALE_INDEX = "SENSEX"  # busy, but BSE does not trade in the last session (NSE does)
# 50 symbols for `latest`: the six indices, 22 quiet options and 22 that traded later.
MIXED_50 = [*OPTION_SYMBOLS[0:44:2], *OPTION_SYMBOLS[1:44:2]]  # + the indices, in measure()


def _trading_days() -> Iterator[date]:
    from marketdata.market_calendar import market_session

    day = FIRST_DAY
    while True:
        if market_session(exchange="NSE", day=day) and market_session(exchange="BSE", day=day):
            yield day
        day += timedelta(days=1)


def _options_create() -> dict[str, str]:
    """The options' `Instrument` rows (as sync_instruments would load them); symbol -> token."""
    from marketdata.models import Instrument

    tokens = {symbol: str(OPTION_TOKENS + n) for n, symbol in enumerate(OPTION_SYMBOLS)}
    Instrument.objects.bulk_create(
        [
            Instrument(
                token=tokens[symbol], symbol=symbol, name=underlying, exchange="NFO",
                exchange_type=2, instrument_type="OPTIDX", expiry=OPTION_EXPIRY,
                strike=float(strike), lot_size=75, tick_size=0.05,
            )
            for symbol, (underlying, strike) in _options().items()
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    return tokens


def _option_seconds(n: int) -> list[tuple[int, int]]:
    """(session number, second of the session) of option n's ticks."""
    seconds = [(n * 11 + k * 997) % (SESSION_SECONDS - 1) for k in range(TICKS_PER_OPTION)]
    if n % 2 == 0:  # quiet: only in the first session
        return [(0, second) for second in seconds]
    return list(enumerate(seconds))


def _filled() -> bool:
    from marketdata.models import MarketData

    newest = MarketData.objects.order_by("-received_at").first()
    return (
        MarketData.objects.count() == TOTAL_TICKS
        and MarketData.objects.filter(symbol=QUIET_OPTION).count() == TICKS_PER_OPTION
        and newest is not None
        and not MarketData.objects.filter(
            symbol=STALE_INDEX, received_at__gte=newest.received_at - timedelta(hours=1)
        ).exists()
    )


def _fill() -> date:
    """The data set, in time order through `tick_ingest`, unless already there; the last day."""
    from marketdata.models import MarketData
    from marketdata.services import tick_ingest
    from marketdata.ticks import Tick

    if _filled():
        return MarketData.objects.latest("received_at").received_at.astimezone(IST).date()
    MarketData.objects.all().delete()
    started = time.perf_counter()
    option_tokens = _options_create()
    indices = {symbol: token for symbol, (token, _kind) in index_tokens().items()}
    nse_indices = {s: token for s, (token, kind) in index_tokens().items() if kind == NSE_TYPE}
    index_ticks = TOTAL_TICKS - OPTIONS * TICKS_PER_OPTION
    full_days, last_day_ticks = divmod(index_ticks, SESSION_SECONDS * len(indices))
    assert 0 < last_day_ticks <= SESSION_SECONDS * len(nse_indices)
    days = list(islice(_trading_days(), full_days + 1))
    options_by_second: dict[tuple[int, int], list[str]] = {}
    for n, symbol in enumerate(OPTION_SYMBOLS):
        for key in _option_seconds(n):
            options_by_second.setdefault(key, []).append(symbol)

    remaining = index_ticks
    for number, day in enumerate(days):
        opens = datetime.combine(day, datetime.min.time(), tzinfo=IST) + timedelta(
            hours=9, minutes=15
        )
        for chunk in range(0, SESSION_SECONDS, BATCH_SECONDS):
            ticks = []
            for s in range(chunk, min(chunk + BATCH_SECONDS, SESSION_SECONDS)):
                at = opens + timedelta(seconds=s)
                trading = indices if number < full_days else nse_indices
                busy = list(trading.items())[: max(0, remaining)]
                remaining -= len(busy)
                ticks += [
                    Tick(token=token, symbol=symbol, ltpc=20000.0 + (s % 600) * 0.5,
                         exchange="", received_at=at, volume=s * 10, close=19990.0)
                    for symbol, token in busy
                ]  # fmt: skip
                ticks += [
                    Tick(token=option_tokens[symbol], symbol=symbol, ltpc=100.0 + s % 7,
                         exchange="", received_at=at, volume=s, close=100.0)
                    for symbol in options_by_second.get((number, s), ())
                ]  # fmt: skip
            if ticks:
                stored = len(tick_ingest(ticks=ticks).stored)
                assert stored == len(ticks), (stored, len(ticks))
    stored_all = MarketData.objects.count()
    assert stored_all == TOTAL_TICKS, stored_all
    print(f"  stored {TOTAL_TICKS:,} ticks in {time.perf_counter() - started:.0f} s")
    return days[-1]


def _median_ms(client, path: str, headers: dict, runs: int = RUNS, warmup: int = 3) -> float:
    timings = []
    for _ in range(runs + warmup):
        started = time.perf_counter()
        response = client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
    return statistics.median(timings[warmup:])


def _latest_one_query_per_symbol(*, symbols: Sequence[str] | None = None) -> list:
    """The old `selectors.latest_ticks`, for comparison: one query per symbol."""
    from marketdata.models import MarketData

    latest = (
        MarketData.objects.filter(symbol=symbol).order_by("-received_at").first()
        for symbol in sorted(set(symbols or ()))
    )
    return [tick for tick in latest if tick is not None]


def _symbol_ticks_unbounded(*, symbol: str, start=None, end=None):
    """The old query of `symbol/{symbol}`, for comparison."""
    from marketdata import selectors

    return selectors.ticks_filter(symbols=[symbol], start=start, end=end)


# The candle query before issue 13: two window functions, each sorting every tick of the range.
_CANDLES_WINDOW_SQL = """
WITH bucketed AS (
    SELECT ((({epoch}) + {offset}) / %s) * %s - {offset} AS bucket, received_at, ltpc, volume
    FROM market_data
    WHERE symbol = %s AND received_at >= %s AND received_at < %s
), ranked AS (
    SELECT bucket, ltpc, volume,
        FIRST_VALUE(ltpc) OVER (PARTITION BY bucket ORDER BY received_at) AS first_price,
        FIRST_VALUE(ltpc) OVER (PARTITION BY bucket ORDER BY received_at DESC) AS last_price
    FROM bucketed
)
SELECT bucket, MAX(first_price), MAX(ltpc), MIN(ltpc), MAX(last_price),
    MAX(volume) - MIN(volume), COUNT(*)
FROM ranked GROUP BY bucket ORDER BY bucket
"""
_WINDOW_EPOCH_SQL = {
    "sqlite": "CAST(strftime('%%s', received_at) AS INTEGER)",
    "postgresql": "FLOOR(EXTRACT(EPOCH FROM received_at))::bigint",
}


def _candle_rows_windowed(*, symbol: str, step: int, start: datetime, end: datetime) -> list:
    """The old `tick_queries.candle_rows`, for comparison."""
    from django.db import connection

    from marketdata import tick_queries

    sql = _CANDLES_WINDOW_SQL.format(
        epoch=_WINDOW_EPOCH_SQL[connection.vendor], offset=tick_queries.IST_OFFSET_SECONDS
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [step, step, symbol, adapt(start), adapt(end)])
        return cursor.fetchall()


def _chart_from_ticks(*, symbol: str, interval: str, start, end, today) -> list:
    """The 1d chart read from every tick in the range (no stored daily candles), for comparison."""
    from marketdata import selectors

    return selectors.tick_candles(symbol=symbol, interval=interval, start=start, end=end)


def _chart_uncached(*, symbol: str, interval: str, start, end, today) -> list:
    """The chart with no closed day's candles kept: every one read from ticks, for comparison."""
    from marketdata import selectors

    return selectors.candles_for(symbol=symbol, interval=interval, start=start, end=end)


def _plan(explain: Callable[[], str]) -> str:
    return explain().replace("\n", " | ")


def _sql_plan(sql: str, params: list) -> str:
    from django.db import connection

    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return " | ".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


def _plans(day: date, mixed: list[str]) -> None:

    from marketdata import selectors, tick_queries
    from marketdata.models import MarketData

    def page(symbol: str) -> str:
        query = selectors.symbol_ticks(symbol=symbol).order_by("-received_at")[:101]
        return _plan(query.explain)

    def old(symbol: str) -> str:
        return _plan(MarketData.objects.filter(symbol=symbol).order_by("-received_at")[:1].explain)

    print("  plan, latest (one query):     ", _sql_plan(*tick_queries._latest_query(mixed)))
    print("  plan, old latest, quiet option:", old(QUIET_OPTION))
    print(f"  plan, old latest, {STALE_INDEX}:     ", old(STALE_INDEX))
    print("  plan, symbol first page:      ", page("NIFTY"))
    print("  plan, quiet option first page:", page(QUIET_OPTION))
    print(f"  plan, {STALE_INDEX} first page:      ", page(STALE_INDEX))
    start = datetime.combine(day, datetime.min.time(), tzinfo=IST)
    query = tick_queries.candles_query("NIFTY", 60, start, start + timedelta(days=1))
    print("  plan, chart:                  ", _sql_plan(*query))


def measure(backend: str, args: argparse.Namespace) -> None:
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from marketdata import selectors, tick_queries
    from marketdata.models import DailyCandle
    from marketdata.ops import daily

    # Django's test set-up serializes every migrated app's rows (for TransactionTestCase):
    # for a million ticks, minutes of work that nothing here uses.
    settings.TEST_NON_SERIALIZED_APPS = ["marketdata"]
    # The test client's host, and one user's thousands of requests a minute, let through.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.MARKET_READ_THROTTLE_RATE = "1000000/min"
    with bench_database(backend, keep=True):
        day = _fill()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE market_data")  # planner statistics, as autovacuum would keep
        user, _ = User.objects.get_or_create(email="bench@example.com", defaults={"name": "Bench"})
        headers = {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}
        client = Client()
        mixed = sorted([*index_tokens(), *MIXED_50])
        cap = sorted([*index_tokens(), *OPTION_SYMBOLS[: selectors.LATEST_MAX_SYMBOLS - 6]])
        chart = f"{API}/chart/NIFTY?interval=1m&from={day.isoformat()}&to={(day + timedelta(days=1)).isoformat()}"

        def median(path: str, runs: int = RUNS, warmup: int = 3) -> float:
            return _median_ms(
                client, path if path.startswith("/") else f"{API}/{path}", headers, runs, warmup
            )

        def show(label: str, ms: float, note: str = "(< 20)") -> None:
            print(f"  {label:<36} {ms:6.1f} ms {note}")

        latest_mixed = f"latest?symbols={','.join(mixed)}"
        print(f"{backend}: {RUNS} requests each, median (target)")
        show("latest (the six streamed)", median("latest"))
        show("latest, 50 indices and options", median(latest_mixed))
        with mock.patch.object(selectors, "latest_ticks", _latest_one_query_per_symbol):
            show("  old: one query per symbol", median(latest_mixed, runs=10), "(10 requests)")
        show(f"latest, {len(cap)} symbols (the cap)", median(f"latest?symbols={','.join(cap)}"), "")
        show("symbol/NIFTY page 1", median("symbol/NIFTY"))
        show(f"symbol/{QUIET_OPTION} page 1", median(f"symbol/{QUIET_OPTION}"))
        show(f"symbol/{STALE_INDEX} page 1 (not recent)", median(f"symbol/{STALE_INDEX}"))
        with mock.patch.object(selectors, "symbol_ticks", _symbol_ticks_unbounded):
            show(
                "  old: not bounded by its newest",
                median(f"symbol/{STALE_INDEX}", runs=10),
                "(10 requests)",
            )
        show("chart 1m, one day", median(chart), "(< 100)")

        show("statistics (reused for 5 s)", median("statistics"), "(< 50)")
        settings.MARKET_STATISTICS_CACHE_SECONDS = 0
        show("  old: computed for every request", median("statistics", runs=3), "(3 requests)")
        settings.MARKET_STATISTICS_CACHE_SECONDS = 5

        until = day + timedelta(days=1)
        decade = f"chart/NIFTY?interval=1d&from={until - timedelta(days=3650)}&to={until}"
        DailyCandle.objects.filter(symbol="NIFTY").delete()
        first_ms = median(decade, runs=1, warmup=0)
        built = DailyCandle.objects.filter(symbol="NIFTY").count()
        show(f"  its first request, storing {built} days", first_ms, "(once)")
        show("chart 1d, ten years", median(decade), "(< 100)")
        with mock.patch.object(daily, "chart_candles", _chart_from_ticks):
            show("  old: from every tick", median(decade, runs=3), "(3 requests)")

        until_at = datetime.combine(until, datetime.min.time(), tzinfo=IST)
        span = {"interval": "15m", "to": until_at.isoformat()}
        span["from"] = (until_at - timedelta(minutes=15 * selectors.MAX_CANDLES)).isoformat()
        quarter_hours = f"chart/NIFTY?{urlencode(span)}"
        show("chart 15m, 10,000 candles", median(quarter_hours), "(< 200)")
        with mock.patch.object(daily, "chart_candles", _chart_uncached):
            show("  all read from ticks", median(quarter_hours, runs=3), "(3 requests)")
            with mock.patch.object(tick_queries, "candle_rows", _candle_rows_windowed):
                show("  old: two window functions", median(quarter_hours, runs=3), "(3 requests)")
        _plans(day, mixed)


def main() -> None:
    default_sqlite = Path(tempfile.gettempdir()) / "trading_signals_bench_api.sqlite3"
    sqlite = os.environ.get("BENCH_SQLITE_PATH", str(default_sqlite))
    per_backend_main(__file__, __doc__, measure, sqlite_path=sqlite)


if __name__ == "__main__":
    main()
