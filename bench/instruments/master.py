"""A synthetic OpenAPIScripMaster.json in Angel One's shape, of any number of rows.

In the proportions of the real master: indices, NSE and BSE equities, NFO index options of
several weekly and monthly expiries and 150-200 strikes, index and stock futures, stock
options, BFO index options (SENSEX, BANKEX), MCX commodity futures and options, CDS currency
options, a few hundred contracts that expired yesterday (a master not yet regenerated), and
BSE securities up to the row count. Expiries are counted from `today`, so the contracts are
live whenever the benchmark runs.
"""

import json
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import count, islice
from pathlib import Path

from marketdata.tests.feed.angelone.angelone_peer import master_record, option_symbol

Record = dict[str, str]


def _expiries(today: date, *, every_weeks: int, count_: int) -> list[date]:
    """Thursdays after `today`: weekly, or every few weeks (a monthly series)."""
    first = today + timedelta(days=(3 - today.weekday()) % 7 or 7)
    return [first + timedelta(weeks=every_weeks * n) for n in range(count_)]


def _options(
    tokens: Iterator[int], name: str, *, exchange: str, kind: str, expiries: list[date],
    first: int, step: int, strikes: int, lot: int, tick: float = 5,
) -> Iterator[Record]:  # fmt: skip
    for expiry in expiries:
        for n in range(strikes):
            strike = first + step * n
            for right in ("CE", "PE"):
                yield master_record(
                    str(next(tokens)), option_symbol(name, expiry, strike, right), name=name,
                    exchange=exchange, instrument_type=kind, expiry=expiry, strike=strike,
                    lot_size=lot, tick_size=tick,
                )  # fmt: skip


def _futures(
    tokens: Iterator[int], name: str, *, exchange: str, kind: str, expiries: list[date], lot: int
) -> Iterator[Record]:
    for expiry in expiries:
        symbol = f"{name}{expiry.strftime('%d%b%y').upper()}FUT"
        yield master_record(
            str(next(tokens)), symbol, name=name, exchange=exchange, instrument_type=kind,
            expiry=expiry, lot_size=lot,
        )  # fmt: skip


def _equities(
    tokens: Iterator[int], *, exchange: str, prefix: str, rows: int | None
) -> Iterator[Record]:
    numbers = range(rows) if rows is not None else count()
    for n in numbers:
        name = f"{prefix}{n:05d}"
        suffix = "-EQ" if exchange == "NSE" else ""
        yield master_record(str(next(tokens)), f"{name}{suffix}", name=name, exchange=exchange)


def _indices() -> Iterator[Record]:
    for exchange, first, rows in (("NSE", 99926000, 120), ("BSE", 99919000, 60)):
        for n in range(rows):
            yield master_record(
                str(first + n), f"{exchange} INDEX {n}", name=f"{exchange}IDX{n}",
                exchange=exchange, instrument_type="AMXIDX", strike=0, tick_size=0,
            )  # fmt: skip


def _derivatives(today: date) -> Iterator[Record]:
    nfo, bfo, mcx, cds = count(35000), count(800000), count(400000), count(1000)
    weekly = _expiries(today, every_weeks=1, count_=10)
    monthly = _expiries(today, every_weeks=4, count_=4)
    for name, expiries, first, step, strikes, lot in (
        ("NIFTY", weekly, 20000, 50, 200, 75),
        ("BANKNIFTY", monthly, 45000, 100, 200, 30),
        ("FINNIFTY", monthly, 20000, 50, 150, 65),
        ("MIDCPNIFTY", monthly, 10000, 25, 150, 120),
    ):
        yield from _options(
            nfo, name, exchange="NFO", kind="OPTIDX", expiries=expiries, first=first, step=step,
            strikes=strikes, lot=lot,
        )  # fmt: skip
        yield from _futures(nfo, name, exchange="NFO", kind="FUTIDX", expiries=monthly[:3], lot=lot)
    for n in range(220):
        stock = f"STOCK{n:03d}"
        yield from _futures(
            nfo, stock, exchange="NFO", kind="FUTSTK", expiries=monthly[:3], lot=500
        )
        yield from _options(
            nfo, stock, exchange="NFO", kind="OPTSTK", expiries=monthly[:3], first=100 + n * 10,
            step=10, strikes=70, lot=500,
        )  # fmt: skip
    for name, expiries, first, step, strikes, lot in (
        ("SENSEX", weekly[:8], 70000, 100, 200, 20),
        ("BANKEX", monthly, 50000, 100, 150, 30),
    ):
        yield from _options(
            bfo, name, exchange="BFO", kind="OPTIDX", expiries=expiries, first=first, step=step,
            strikes=strikes, lot=lot,
        )  # fmt: skip
    for n in range(30):
        commodity = f"COMMODITY{n:02d}"
        yield from _futures(
            mcx, commodity, exchange="MCX", kind="FUTCOM", expiries=weekly[:6], lot=100
        )
        yield from _options(
            mcx, commodity, exchange="MCX", kind="OPTFUT", expiries=weekly[:6], first=1000,
            step=100, strikes=40, lot=100, tick=100,
        )  # fmt: skip
    for pair in ("USDINR", "EURINR", "GBPINR", "JPYINR"):
        yield from _options(
            cds, pair, exchange="CDS", kind="OPTCUR", expiries=weekly[:8], first=80, step=1,
            strikes=100, lot=1000, tick=0.25,
        )  # fmt: skip
    yield from _options(
        nfo, "NIFTY", exchange="NFO", kind="OPTIDX", expiries=[today - timedelta(days=1)],
        first=22000, step=50, strikes=300, lot=75,
    )  # fmt: skip


def synthetic_master(*, rows: int, today: date) -> Iterator[Record]:
    """`rows` records in the real master's shape and proportions."""
    parts = (
        _indices(),
        _equities(count(1), exchange="NSE", prefix="NSESTOCK", rows=2400),
        _derivatives(today),
        _equities(count(500000), exchange="BSE", prefix="BSESEC", rows=None),
    )
    return islice((record for part in parts for record in part), rows)


def master_write(path: Path, *, rows: int, today: date) -> int:
    """Write the master as Angel One does (one compact JSON list), record by record; returns
    its size in bytes."""
    with path.open("w", encoding="utf-8") as output:
        output.write("[")
        for n, record in enumerate(synthetic_master(rows=rows, today=today)):
            output.write(("," if n else "") + json.dumps(record, separators=(",", ":")))
        output.write("]")
    return path.stat().st_size
