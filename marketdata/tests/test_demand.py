"""The demand (`marketdata/demand/`): what the feed streams, from subscribed instruments,
demand providers, `/ws` holds (counted per process and across processes, kept for the grace)
and touches; its modes, its capacity and its `/health` line. Each test runs with Redis (the
leases of several processes) and without (everything in this process)."""

import asyncio
import json
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.db import OperationalError

from marketdata import demand
from marketdata.models import Instrument

pytestmark = pytest.mark.django_db

INDICES = {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX", "BANKEX"}
CALL = "NIFTY25DEC24000CE"
PUT = "NIFTY25DEC24000PE"
STOCK = "RELIANCE-EQ"


def option(symbol: str, token: str) -> Instrument:
    return Instrument.objects.create(
        token=token,
        symbol=symbol,
        name="NIFTY",
        exchange="NFO",
        exchange_type=2,
        instrument_type="OPTIDX",
        strike=24000.0,
        lot_size=75,
    )


@pytest.fixture
def master(db) -> dict[str, Instrument]:
    """Two options and a stock besides the six subscribed indices."""
    stock = Instrument.objects.create(
        token="2885", symbol=STOCK, name="RELIANCE", exchange="NSE", exchange_type=1
    )
    return {CALL: option(CALL, "43001"), PUT: option(PUT, "43002"), STOCK: stock}


def demand_keys_clear() -> None:
    if django_settings.REDIS_URL:
        client = redis.Redis.from_url(django_settings.REDIS_URL)
        client.delete(demand.HOLDS_KEY, demand.TOUCHES_KEY, demand.REFUSALS_KEY)


def fresh_demand(settings, where: str):
    if where == "redis":
        if not settings.REDIS_URL:
            pytest.skip("needs REDIS_URL")
    else:
        settings.REDIS_URL = ""
    settings.LIVE_DEMAND_GRACE_SECONDS = 60.0
    settings.LIVE_DEMAND_MAX_INSTRUMENTS = 3000
    demand_keys_clear()
    demand.process_demand_replace()
    yield where
    demand.process_demand_replace()
    demand_keys_clear()


@pytest.fixture(params=["redis", "in-process"])
def where(request, settings):
    """Holds and touches through Redis, or in this process only (the embedded default)."""
    yield from fresh_demand(settings, request.param)


@pytest.fixture
def with_redis(settings):
    """Holds and touches through Redis, shared by processes."""
    yield from fresh_demand(settings, "redis")


@pytest.fixture
def provided(monkeypatch):
    """A demand provider returning whatever the test puts in the list."""
    symbols: list[str] = []
    monkeypatch.setattr(demand, "_providers", [lambda: symbols])
    return symbols


def streamed(**options) -> dict[str, str]:
    return {item.symbol: item.mode for item in demand.demand_read(**options).instruments}


def test_subscribed_instruments_are_the_demand_by_default(master, where, provided):
    assert streamed() == dict.fromkeys(INDICES, "quote")
    assert streamed(default_mode="ltp") == dict.fromkeys(INDICES, "ltp")


def test_a_poll_that_finds_nothing_changed_reads_one_narrow_query(
    master, where, provided, django_assert_num_queries
):
    """The feed polls every half second: with thousands of instruments, an unchanged demand
    must not be rebuilt from whole rows each time."""
    first = demand.demand_read()

    with django_assert_num_queries(1):
        again = demand.demand_read(streaming=first.symbols(), previous=first)

    assert again is first


def test_watched_names_the_symbols_clients_hold_and_nothing_else(master, where, provided):
    provided.append(CALL)
    demand.demand_touch(symbols=[STOCK])
    demand.demand_hold(holder="client-1", symbols=[PUT, "NIFTY"])

    read = demand.demand_read()

    assert read.watched == {PUT, "NIFTY"}
    assert {CALL, STOCK, "SENSEX"} <= read.symbols()


def test_every_kind_of_change_is_seen_by_a_poll(master, where, provided):
    def polled(previous: demand.Demand) -> demand.Demand:
        return demand.demand_read(streaming=previous.symbols(), previous=previous)

    def keys(read: demand.Demand) -> dict[str, tuple[tuple[int, str], str]]:
        return {item.symbol: (item.key, item.mode) for item in read.instruments}

    start = demand.demand_read()
    Instrument.objects.filter(symbol=STOCK).update(subscribed=True)  # staff mark, unannounced
    marked = polled(start)
    provided.append(CALL)
    with_provider = polled(marked)
    demand.demand_hold(holder="client-1", symbols=[PUT], mode="snap_quote")
    held = polled(with_provider)
    Instrument.objects.filter(symbol=PUT).update(token="43099")  # the master re-synced
    resynced = polled(held)

    assert set(keys(marked)) == INDICES | {STOCK}
    assert set(keys(with_provider)) == INDICES | {STOCK, CALL}
    assert keys(held)[PUT] == ((2, "43002"), "snap_quote")
    assert keys(resynced)[PUT] == ((2, "43099"), "snap_quote")


def test_providers_add_their_symbols_and_unknown_ones_are_ignored(master, where, provided):
    provided.extend([CALL, "NOT-IN-THE-MASTER"])

    assert set(streamed()) == INDICES | {CALL}


def test_a_hold_is_streamed_until_the_grace_after_its_release(master, where, provided, settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.3
    demand.demand_hold(holder="client-1", symbols=[CALL.lower()])
    assert CALL in streamed()

    demand.demand_release(holder="client-1", symbols=[CALL])
    assert CALL in streamed()  # within the grace
    time.sleep(0.4)
    assert CALL not in streamed()


def test_holds_are_counted_per_holder(master, where, provided, settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.2
    demand.demand_hold(holder="client-1", symbols=[CALL, PUT])
    demand.demand_hold(holder="client-2", symbols=[CALL])

    demand.demand_release(holder="client-1")  # all it holds: a disconnect
    time.sleep(0.3)

    assert CALL in streamed() and PUT not in streamed()
    demand.demand_release(holder="client-2", symbols=[CALL])
    time.sleep(0.3)
    assert set(streamed()) == INDICES


def test_holding_again_within_the_grace_keeps_it(master, where, provided, settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.3
    demand.demand_hold(holder="client-1", symbols=[CALL])
    demand.demand_release(holder="client-1")
    demand.demand_hold(holder="client-2", symbols=[CALL])
    time.sleep(0.4)

    assert CALL in streamed()


def test_another_process_holds_count_until_its_lease_expires(master, with_redis, provided):
    other = demand.ProcessDemand()
    other.hold("their-client", [CALL], None)
    other.lease_write()
    demand.demand_hold(holder="our-client", symbols=[CALL])
    demand.demand_release(holder="our-client")

    assert CALL in streamed()  # released here, still held there

    client = redis.Redis.from_url(django_settings.REDIS_URL)
    lease = json.loads(client.hget(demand.HOLDS_KEY, other.lease_id))
    lease["expires"] = time.time() - 1  # the other process died and stopped refreshing
    client.hset(demand.HOLDS_KEY, other.lease_id, json.dumps(lease))
    demand.process_demand_replace()  # and ours is gone too (its grace is local)

    assert CALL not in streamed()
    assert not client.hexists(demand.HOLDS_KEY, other.lease_id)  # cleaned up by the reader
    other.close()


def test_a_release_elsewith_redis_is_kept_for_the_grace(master, with_redis, provided, settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.3
    other = demand.ProcessDemand()
    other.hold("their-client", [PUT], None)
    other.release("their-client", None, grace=0.3)
    other.lease_write()

    assert PUT in streamed()
    time.sleep(0.4)
    assert PUT not in streamed()
    other.close()


def test_a_touch_streams_for_the_grace(master, where, provided, settings):
    settings.LIVE_DEMAND_GRACE_SECONDS = 0.3
    demand.demand_touch(symbols=[CALL, PUT], mode="snap_quote")

    assert streamed()[CALL] == "snap_quote"
    time.sleep(0.4)
    assert set(streamed()) == INDICES


def test_the_highest_mode_asked_for_wins(master, where, provided):
    demand.demand_hold(holder="a", symbols=[CALL], mode="ltp")
    demand.demand_hold(holder="b", symbols=[PUT, "NIFTY"], mode="snap_quote")
    demand.demand_hold(holder="c", symbols=[STOCK])  # the feed's own mode...
    demand.demand_hold(holder="d", symbols=[STOCK], mode="ltp")  # ...is higher than ltp

    modes = streamed(default_mode="quote")
    assert (modes[CALL], modes[PUT], modes["NIFTY"], modes[STOCK]) == (
        "ltp",
        "snap_quote",
        "snap_quote",
        "quote",
    )
    assert modes["SENSEX"] == "quote"


def test_a_hold_past_the_capacity_is_refused_and_changes_nothing(master, where, provided, settings):
    settings.LIVE_DEMAND_MAX_INSTRUMENTS = 7
    demand.demand_hold(holder="a", symbols=[CALL])
    assert demand.demand_health().startswith("full: 7 of 7 instruments")

    with pytest.raises(demand.DemandFullError) as refused:
        demand.demand_hold(holder="b", symbols=[CALL, PUT])
    with pytest.raises(demand.DemandFullError):
        demand.demand_touch(symbols=[STOCK])

    assert refused.value.symbols == [PUT]
    assert "at most 7 instruments" in str(refused.value)
    assert set(streamed()) == INDICES | {CALL}
    demand.demand_hold(holder="b", symbols=[CALL])  # already streamed: no more needed
    health = demand.demand_health()
    assert health.startswith("full: 7 of 7 instruments; 2 subscription(s) refused")
    assert health.endswith(f"({STOCK})")


def test_past_the_capacity_the_first_by_priority_are_streamed_and_the_rest_named(
    master, where, provided, settings
):
    demand.demand_touch(symbols=[STOCK])
    demand.demand_hold(holder="a", symbols=[PUT])
    provided.append(CALL)
    settings.LIVE_DEMAND_MAX_INSTRUMENTS = 8  # lowered after they were admitted

    read = demand.demand_read()

    assert [item.symbol for item in read.instruments][-2:] == [CALL, PUT]
    assert read.over == (STOCK,)
    assert demand.demand_health().startswith("over capacity: 8 of 8 instruments streamed, 1")


def test_already_streamed_instruments_keep_their_place(master, where, provided, settings):
    demand.demand_hold(holder="a", symbols=[CALL, PUT])
    settings.LIVE_DEMAND_MAX_INSTRUMENTS = 7

    assert demand.demand_read(streaming={PUT}).over == (CALL,)
    assert demand.demand_read(streaming={CALL}).over == (PUT,)


def test_health_reads_ok_below_the_capacity(master, where, provided):
    assert demand.demand_health() == "ok: 6 of 3000 instruments"


def test_health_says_unknown_when_the_demand_cannot_be_read(master, where, monkeypatch):
    def broken():
        raise OperationalError("the database is away")

    monkeypatch.setattr(demand, "_providers", [broken])

    assert demand.demand_health().startswith("unknown")


def test_changes_wake_this_process_at_once(master, where, provided):
    woken: list[int] = []
    demand.demand_waker_add(lambda: woken.append(1))
    try:
        demand.demand_hold(holder="a", symbols=[CALL])
        demand.demand_release(holder="a")
        demand.demand_touch(symbols=[PUT])
        demand.demand_changed()
    finally:
        demand.process._wakers.clear()

    assert len(woken) == 4


def test_changes_are_announced_through_redis(master, with_redis, provided):

    async def scenario() -> float:
        woken = asyncio.Event()
        listener = asyncio.create_task(demand.demand_listen(wake=woken.set))
        await asyncio.wait_for(woken.wait(), 5)  # subscribed: it wakes once at start
        woken.clear()
        start = time.monotonic()
        await asyncio.to_thread(demand.demand_changed)
        await asyncio.wait_for(woken.wait(), 5)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        return time.monotonic() - start

    assert asyncio.run(scenario()) < 1.0


def test_a_hold_is_admitted_unchecked_when_the_demand_cannot_be_read(master, where, monkeypatch):
    def broken():
        raise OperationalError("the database is away")

    monkeypatch.setattr(demand, "_providers", [broken])
    demand.demand_hold(holder="a", symbols=[CALL])
    monkeypatch.setattr(demand, "_providers", [])

    assert CALL in streamed()


def test_an_unknown_mode_is_refused(where):
    with pytest.raises(ValueError, match="mode must be one of"):
        demand.demand_hold(holder="a", symbols=[CALL], mode="depth")
