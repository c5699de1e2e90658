"""Sources following the demand (`feed/base.py` DemandFollower): the simulated source streams
exactly the demanded set and prices any instrument plausibly, the replay yields only
demanded symbols' ticks, a database outage keeps the current set, and `run_feed` without
`--symbols` starts from the current demand."""

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError, connections

from marketdata import demand
from marketdata.feed import base
from marketdata.feed.cli import feed_source_build
from marketdata.feed.replay import ReplaySource
from marketdata.feed.simulated import SimulatedSource, plausible_level
from marketdata.models import Instrument
from marketdata.tests.conftest import TRADING_DAY, make_ticks
from marketdata.tests.feed.feedprocess import recording_write
from marketdata.ticks import Tick

INDICES = {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX", "BANKEX"}
CALL = "NIFTY25DEC24000CE"
DEADLINE_SECONDS = 10

Batches = list[list[Tick]]


def run_source(source, *steps: Callable[[Batches], bool]) -> Batches:
    """Iterate the source, polling each step in turn (it sees every batch so far)."""

    async def run() -> Batches:
        batches: Batches = []

        async def consume() -> None:
            async for batch in source.ticks():
                batches.append(batch)

        consumer = asyncio.create_task(consume())
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                for step in steps:
                    while not step(batches):
                        if consumer.done():
                            consumer.result()
                            return batches
                        await asyncio.sleep(0.01)
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        return batches

    return asyncio.run(run())


def in_thread(action: Callable[[], object]) -> Callable[[Batches], bool]:
    """A step running `action` in a thread (database access is not for the event loop); the
    thread closes its database connection when done, so none outlives it."""

    def run() -> None:
        try:
            action()
        finally:
            connections.close_all()

    return lambda batches: threading.Thread(target=run).start() or True


def symbols(batch: list[Tick]) -> set[str]:
    return {tick.symbol for tick in batch}


@pytest.fixture
def fresh_demand(settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.3
    demand.process_demand_replace()
    yield
    demand.process_demand_replace()


@pytest.fixture
def call_option(transactional_db) -> Instrument:
    return Instrument.objects.create(
        token="43001",
        symbol=CALL,
        name="NIFTY",
        exchange="NFO",
        exchange_type=2,
        instrument_type="OPTIDX",
        strike=24000.0,
        lot_size=75,
    )


def simulated_following() -> SimulatedSource:
    start = demand.demand_read()
    return SimulatedSource(
        instruments=[item.instrument for item in start.instruments],
        modes={item.symbol: item.mode for item in start.instruments},
        follow_demand=True,
        interval=0.05,
        ignore_market_hours=True,
        seed=3,
    )


@pytest.mark.usefixtures("fresh_demand")
def test_simulated_streams_exactly_the_demand_as_it_changes(call_option):
    source = simulated_following()
    moments: dict[str, float] = {}

    def hold() -> None:
        moments["held"] = time.monotonic()
        demand.demand_hold(holder="client", symbols=[CALL])

    def has_call(batches: Batches) -> bool:
        if batches and CALL in symbols(batches[-1]):
            moments.setdefault("streamed", time.monotonic())
            return True
        return False

    batches = run_source(
        source,
        lambda batches: len(batches) >= 2,
        in_thread(hold),
        has_call,
        in_thread(lambda: demand.demand_release(holder="client")),
        lambda batches: len(batches) > 5 and CALL not in symbols(batches[-1]),
    )

    assert moments["streamed"] - moments["held"] < 1.0
    sets = [frozenset(symbols(batch)) for batch in batches]
    assert set(sets) == {frozenset(INDICES), frozenset(INDICES | {CALL})}
    premiums = [tick.ltpc for batch in batches for tick in batch if tick.symbol == CALL]
    assert all(300 < price < 1000 for price in premiums)  # ~500 intrinsic + time value
    assert source.stats["demanded"] == 6 and source.stats["demand_errors"] == 0


@pytest.mark.usefixtures("fresh_demand")
def test_an_instrument_staff_mark_subscribed_is_streamed_within_a_second(call_option):
    """Marks are not announced: the follower's poll (every 0.5 s) finds them."""
    source = simulated_following()
    moments: dict[str, float] = {}

    def mark(subscribed: bool) -> Callable[[], None]:
        def update() -> None:
            moments[f"marked {subscribed}"] = time.monotonic()
            for _ in range(50):
                try:
                    Instrument.objects.filter(symbol=CALL).update(subscribed=subscribed)
                    return
                except OperationalError:
                    # SQLite's in-memory test database shares one cache between threads, whose
                    # table locks refuse a write at once while the follower reads (no wait).
                    time.sleep(0.01)

        return update

    def streamed(wanted: bool) -> Callable[[Batches], bool]:
        def step(batches: Batches) -> bool:
            if batches and (CALL in symbols(batches[-1])) == wanted:
                moments.setdefault(f"streamed {wanted}", time.monotonic())
                return True
            return False

        return step

    run_source(
        source,
        lambda batches: len(batches) >= 1,
        in_thread(mark(True)),
        streamed(True),
        in_thread(mark(False)),
        streamed(False),
    )

    assert moments["streamed True"] - moments["marked True"] < 1.0
    assert moments["streamed False"] - moments["marked False"] < 1.0


@pytest.mark.usefixtures("fresh_demand")
def test_while_the_demand_cannot_be_read_the_stream_goes_on_with_its_set(
    call_option, monkeypatch, caplog
):
    source = simulated_following()
    real_read = base.demand_read

    def away(**options):
        raise OperationalError("the database is away")

    def outage() -> None:
        monkeypatch.setattr(base, "demand_read", away)
        demand.demand_hold(holder="client", symbols=[CALL])

    batches = run_source(
        source,
        lambda batches: len(batches) >= 2,
        in_thread(outage),
        lambda batches: source.stats["demand_errors"] >= 2 and len(batches) >= 8,
        lambda batches: monkeypatch.setattr(base, "demand_read", real_read) or True,
        lambda batches: CALL in symbols(batches[-1]),
    )

    during = [symbols(batch) for batch in batches[2:8]]
    assert all(found == INDICES for found in during)
    assert "keeps streaming its 6 instruments" in caplog.text


@pytest.mark.usefixtures("fresh_demand")
def test_ltp_mode_asked_for_sends_only_the_price(call_option):
    demand.demand_hold(holder="client", symbols=[CALL], mode="snap_quote")
    demand.demand_hold(holder="client", symbols=["NIFTY"], mode="ltp")
    source = simulated_following()

    [first, *_] = run_source(source, lambda batches: len(batches) >= 1)

    by_symbol = {tick.symbol: tick for tick in first}
    assert by_symbol["NIFTY"].volume is not None  # subscribed: the feed's mode (quote) wins
    assert source.modes[CALL] == "snap_quote" and by_symbol[CALL].volume is not None


def test_plausible_levels():
    def instrument(**fields) -> Instrument:
        return Instrument(exchange="NFO", exchange_type=2, **fields)

    call = instrument(
        symbol="NIFTY25DEC24500CE", name="NIFTY", instrument_type="OPTIDX", strike=24500.0
    )
    deep_put = instrument(
        symbol="BANKNIFTY25DEC60000PE", name="BANKNIFTY", instrument_type="OPTIDX", strike=60000.0
    )
    far_call = instrument(
        symbol="NIFTY25DEC30000CE", name="NIFTY", instrument_type="OPTIDX", strike=30000.0
    )
    future = instrument(symbol="NIFTY25DECFUT", name="NIFTY", instrument_type="FUTIDX")
    stock = Instrument(symbol="RELIANCE-EQ", name="RELIANCE", exchange="NSE", exchange_type=1)

    assert 150 < plausible_level(call) < 250  # at the money: time value only
    assert 8000 <= plausible_level(deep_put) < 8100  # in the money: mostly intrinsic
    assert 1 <= plausible_level(far_call) < 5  # far out of the money: a few rupees
    assert plausible_level(future) == 24500.0
    assert 50 <= plausible_level(stock) <= 5000
    # Fixed by the symbol alone: the same on another exchange, another for another stock.
    listed_elsewhere = Instrument(symbol="RELIANCE-EQ", name="", exchange="BSE", exchange_type=3)
    other_stock = Instrument(symbol="INFY-EQ", name="INFOSYS", exchange="NSE", exchange_type=1)
    assert plausible_level(listed_elsewhere) == plausible_level(stock)
    assert plausible_level(other_stock) != plausible_level(stock)


# --- Replay and run_feed ---------------------------------------------------------------------


def recording(tmp_path: Path) -> Path:
    ticks = make_ticks(3, "NIFTY") + make_ticks(
        3, "SENSEX", start=TRADING_DAY + timedelta(seconds=9)
    )
    ticks += [Tick(token="43001", symbol=CALL, ltpc=600.0, received_at=TRADING_DAY, exchange="NFO")]
    return recording_write(tmp_path / "session.jsonl", ticks)


def replayed(source: ReplaySource) -> list[str]:
    return [tick.symbol for batch in run_source(source, lambda batches: False) for tick in batch]


def feed_options(**options) -> dict:
    return {
        "source": "simulated",
        "mode": "quote",
        "symbols": None,
        "speed": 0,
        "interval": 1.0,
        **options,
    }


@pytest.mark.usefixtures("fresh_demand")
def test_replay_yields_only_demanded_symbols(call_option, tmp_path):
    path = recording(tmp_path)

    plain = replayed(feed_source_build(feed_options(source="replay", file=path)))
    demand.demand_hold(holder="client", symbols=[CALL])
    held = feed_source_build(feed_options(source="replay", file=path))
    with_call = replayed(held)
    named = replayed(
        feed_source_build(feed_options(source="replay", file=path, symbols=["SENSEX"]))
    )

    assert plain == ["NIFTY"] * 3 + ["SENSEX"] * 3
    assert with_call == ["NIFTY"] * 3 + ["SENSEX"] * 3 + [CALL]
    assert named == ["SENSEX"] * 3
    assert held.stats["not_demanded"] == 0


@pytest.mark.usefixtures("fresh_demand")
def test_run_feed_without_symbols_starts_from_the_current_demand(call_option, settings):
    demand.demand_hold(holder="client", symbols=[CALL], mode="snap_quote")

    source = feed_source_build(feed_options(ignore_market_hours=True))
    fixed = feed_source_build(feed_options(ignore_market_hours=True, symbols=["NIFTY"]))

    assert {i.symbol for i in source.instruments} == INDICES | {CALL}
    assert source.modes[CALL] == "snap_quote" and source.modes["NIFTY"] == "quote"
    assert source._follower is not None
    assert [i.symbol for i in fixed.instruments] == ["NIFTY"] and fixed._follower is None
