"""Live first: a tick reaches subscribers before it is stored, through a database outage too,
never twice and never out of order; storage follows and keeps every tick exactly once."""

import asyncio
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import OperationalError
from django.test import override_settings

from marketdata import storage
from marketdata.feed.pipeline import FeedPipeline
from marketdata.live.publish import tick_group
from marketdata.models import MarketData
from marketdata.tests.conftest import TRADING_DAY, make_tick
from marketdata.tests.feed.pipelines import ListSource, pipeline_config

EMBEDDED_LAYER = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("log_dir", "market_clock", "embedded_layer"),
]


@pytest.fixture
def embedded_layer():
    with override_settings(CHANNEL_LAYERS=EMBEDDED_LAYER):
        yield


def _priced(*prices: float, end=TRADING_DAY) -> list:
    """NIFTY ticks one second apart, the last at `end`, at these prices."""
    first = end - timedelta(seconds=len(prices) - 1)
    return [
        make_tick("NIFTY", at=first + timedelta(seconds=i), ltpc=price)
        for i, price in enumerate(prices)
    ]


async def _subscribed(symbol: str = "NIFTY") -> tuple[Any, str]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(tick_group(symbol), channel)
    return layer, channel


async def _next_pushed(subscription: tuple[Any, str], timeout: float = 5) -> dict[str, Any]:
    layer, channel = subscription
    message = await asyncio.wait_for(layer.receive(channel), timeout)
    return json.loads(message["text"])


async def _run(pipeline: FeedPipeline, body: Any) -> Any:
    """Run the pipeline while `body()` runs in the same loop, then stop it and let it flush."""
    stop = asyncio.Event()
    run = asyncio.create_task(pipeline.run(stop=stop))
    try:
        return await body()
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)


def test_a_tick_reaches_subscribers_while_storage_is_still_held_up(monkeypatch):
    held, insert = threading.Event(), storage.ticks_insert_new

    def slow_insert(**kwargs: Any) -> Any:
        held.wait(10)
        return insert(**kwargs)

    monkeypatch.setattr(storage, "ticks_insert_new", slow_insert)
    ticks = _priced(20001.0, 20002.0, 20003.0)
    pipeline = FeedPipeline(source=ListSource(ticks), config=pipeline_config())

    async def body() -> tuple[list[float], int]:
        subscription = await _subscribed()
        pushed = [(await _next_pushed(subscription))["tick"]["ltpc"] for _ in ticks]
        stored_meanwhile = await asyncio.to_thread(MarketData.objects.count)
        held.set()
        return pushed, stored_meanwhile

    pushed, stored_meanwhile = asyncio.run(_run(pipeline, body))

    assert pushed == [t.ltpc for t in ticks]
    assert stored_meanwhile == 0
    assert MarketData.objects.count() == 3


def test_the_live_push_goes_on_through_a_database_outage_and_everything_is_stored_after(
    monkeypatch,
):
    outage = threading.Event()
    outage.set()
    insert = storage.ticks_insert_new

    def insert_unless_down(**kwargs: Any) -> Any:
        if outage.is_set():
            raise OperationalError("could not connect to server")
        return insert(**kwargs)

    monkeypatch.setattr(storage, "ticks_insert_new", insert_unless_down)
    first = _priced(1.0, 2.0, 3.0, 4.0, end=TRADING_DAY - timedelta(minutes=1))
    second = _priced(5.0, 6.0, 7.0, 8.0)
    pipeline = FeedPipeline(source=ListSource(first, second), config=pipeline_config())

    async def body() -> list[float]:
        subscription = await _subscribed()
        pushed = [(await _next_pushed(subscription))["tick"]["ltpc"] for _ in range(8)]
        while pipeline.database != "unavailable":  # the writer has met the outage
            await asyncio.sleep(0.01)
        outage.clear()
        while await asyncio.to_thread(MarketData.objects.count) < 8:
            await asyncio.sleep(0.05)
        return pushed

    pushed = asyncio.run(_run(pipeline, body))

    assert pushed == [t.ltpc for t in first + second]
    assert MarketData.objects.count() == 8
    assert pipeline.counters.stored == 8 and pipeline.counters.dropped == 0


def test_a_replayed_or_older_frame_is_stored_if_new_but_never_pushed_again():
    ticks = _priced(20001.0, 20002.0, 20003.0, end=TRADING_DAY - timedelta(seconds=10))
    older = make_tick("NIFTY", at=TRADING_DAY - timedelta(seconds=30), ltpc=19990.0)
    replayed = make_tick("NIFTY", at=ticks[1].received_at, ltpc=ticks[1].ltpc)
    newer = make_tick("NIFTY", at=TRADING_DAY, ltpc=20100.0)
    source = ListSource(ticks, [replayed, older], [newer])
    pipeline = FeedPipeline(source=source, config=pipeline_config())

    async def body() -> list[dict[str, Any]]:
        subscription = await _subscribed()
        pushed = [await _next_pushed(subscription) for _ in range(4)]
        while await asyncio.to_thread(MarketData.objects.count) < 5:
            await asyncio.sleep(0.05)
        return pushed

    pushed = asyncio.run(_run(pipeline, body))

    assert [m["tick"]["ltpc"] for m in pushed] == [*(t.ltpc for t in ticks), 20100.0]
    seqs = [m["seq"] for m in pushed]
    assert seqs == list(range(seqs[0], seqs[0] + 4))  # gap-free
    assert MarketData.objects.count() == 5  # the older tick is stored, the replayed one once


def test_ticks_outside_the_session_are_neither_pushed_nor_stored():
    early = make_tick("NIFTY", at=TRADING_DAY.replace(hour=9, minute=0), ltpc=20000.0)
    inside = make_tick("NIFTY", at=TRADING_DAY, ltpc=20001.0)
    pipeline = FeedPipeline(source=ListSource([early, inside]), config=pipeline_config())

    async def body() -> list[dict[str, Any]]:
        subscription = await _subscribed()
        first = await _next_pushed(subscription)
        with pytest.raises(TimeoutError):
            await _next_pushed(subscription, timeout=0.3)
        return [first]

    pushed = asyncio.run(_run(pipeline, body))

    assert [m["tick"]["received_at"] for m in pushed] == ["2025-01-06T04:30:00Z"]
    assert list(MarketData.objects.values_list("ltpc", flat=True)) == [inside.ltpc]
    assert pipeline.counters.after_hours == 1


def test_a_token_first_seen_during_an_outage_is_pushed_and_checked_against_the_master_later(
    monkeypatch,
):
    from marketdata.feed import gate

    lookups, real_lookup = [], gate.instruments_by_token

    def lookup_after_the_outage(*, tokens: set[str]) -> Any:
        lookups.append(tokens)
        if len(lookups) == 1:
            raise OperationalError("could not connect to server")
        return real_lookup(tokens=tokens)

    monkeypatch.setattr(gate, "instruments_by_token", lookup_after_the_outage)
    listed = make_tick("BANKNIFTY", at=TRADING_DAY, ltpc=51000.0)
    unlisted = make_tick("NIFTY", at=TRADING_DAY, ltpc=99.0, token="404", symbol="NOSUCH")
    pipeline = FeedPipeline(source=ListSource([listed, unlisted]), config=pipeline_config())

    async def body() -> list[dict[str, Any]]:
        subscription = await _subscribed("BANKNIFTY")
        pushed = [await _next_pushed(subscription)]
        while pipeline.counters.stored + sum(pipeline.counters.rejected.values()) < 2:
            await asyncio.sleep(0.01)
        return pushed

    pushed = asyncio.run(_run(pipeline, body))

    assert [m["tick"]["ltpc"] for m in pushed] == [51000.0]
    assert list(MarketData.objects.values_list("symbol", flat=True)) == ["BANKNIFTY"]
    assert pipeline.counters.rejected == {"unknown_token": 1}
