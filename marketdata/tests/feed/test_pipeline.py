"""The feed pipeline in process: buffering, storage, live push and stopping."""

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from django.test import override_settings

from marketdata.feed import heartbeat
from marketdata.feed.buffer import TickBuffer
from marketdata.feed.pipeline import FeedPipeline
from marketdata.live.publish import tick_group
from marketdata.models import MarketData
from marketdata.tests.conftest import TRADING_DAY, make_tick, make_ticks
from marketdata.tests.feed.pipelines import ListSource, pipeline_config

EMBEDDED_LAYER = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}


def _run_until(pipeline: FeedPipeline, done, *, before=None, after=None):
    """Run the pipeline until `done(pipeline)` holds, then stop it.

    `before()` runs in the loop first; `after(its result)` runs in the loop at the end, and
    its result is returned.
    """

    async def main():
        stop = asyncio.Event()
        context = await before() if before else None
        run = asyncio.create_task(pipeline.run(stop=stop))
        async with asyncio.timeout(30):
            while not done(pipeline) and not run.done():
                await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(run, 30)
        return await after(context) if after else None

    return asyncio.run(main())


def test_buffer_keeps_the_newest_ticks_and_reports_the_dropped_oldest():
    buffer = TickBuffer(limit=5)
    ticks = make_ticks(8)

    dropped = buffer.add(ticks)

    assert dropped == 3
    assert buffer.take(10) == ticks[3:]


@pytest.mark.django_db(transaction=True)
@override_settings(CHANNEL_LAYERS=EMBEDDED_LAYER)
def test_stored_ticks_are_counted_and_pushed_to_subscribers(log_dir, market_clock):
    first = make_ticks(5, "NIFTY")
    again = [*first[:2], make_tick("NIFTY", at=TRADING_DAY.replace(hour=9))]  # 2 dupes, 1 early
    pipeline = FeedPipeline(source=ListSource(first, again), config=pipeline_config())

    async def subscribe():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(tick_group("NIFTY"), channel)
        return layer, channel

    async def pushed(subscription):
        layer, channel = subscription
        return [json.loads((await layer.receive(channel))["text"]) for _ in range(5)]

    messages = _run_until(
        pipeline,
        lambda p: p.counters.received == 8 and len(p.buffer) == 0,
        before=subscribe,
        after=pushed,
    )

    assert MarketData.objects.count() == 5
    assert [m["tick"]["ltpc"] for m in messages] == [t.ltpc for t in first]
    beat = heartbeat.heartbeat_read()
    counts = (beat["received"], beat["stored"], beat["duplicates"], beat["after_hours"])
    assert counts == (8, 5, 2, 1)
    assert beat["state"] == "stopped"


@pytest.mark.django_db(transaction=True)
@override_settings(CHANNEL_LAYERS=EMBEDDED_LAYER)
def test_only_ticks_of_watched_symbols_are_pushed_and_every_tick_is_stored(log_dir, market_clock):
    """A source following the demand names what /ws clients hold; the rest is stored only."""
    source = ListSource(make_ticks(3, "NIFTY") + make_ticks(3, "SENSEX"))
    source.watched = frozenset({"NIFTY"})  # type: ignore[attr-defined]
    pipeline = FeedPipeline(source=source, config=pipeline_config())

    async def subscribe():
        layer = get_channel_layer()
        channels = {symbol: await layer.new_channel() for symbol in ("NIFTY", "SENSEX")}
        for symbol, channel in channels.items():
            await layer.group_add(tick_group(symbol), channel)
        return layer, channels

    async def pushed(subscription):
        layer, channels = subscription
        nifty = [json.loads((await layer.receive(channels["NIFTY"]))["text"]) for _ in range(3)]
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await layer.receive(channels["SENSEX"])
        return nifty

    nifty = _run_until(
        pipeline,
        lambda p: p.counters.stored == 6,
        before=subscribe,
        after=pushed,
    )

    assert [message["tick"]["symbol"] for message in nifty] == ["NIFTY"] * 3
    assert MarketData.objects.filter(symbol="SENSEX").count() == 3


@pytest.mark.django_db(transaction=True)
def test_stop_stores_ticks_still_waiting_for_a_flush(log_dir, market_clock):
    pipeline = FeedPipeline(
        source=ListSource(make_ticks(30)),
        config=pipeline_config(flush_seconds=3600, flush_ticks=1000),
    )

    _run_until(pipeline, lambda p: len(p.buffer) == 30)

    assert MarketData.objects.count() == 30


@pytest.mark.django_db(transaction=True)
def test_a_stop_request_stops_a_running_feed(log_dir):
    pipeline = FeedPipeline(source=ListSource(), config=pipeline_config())

    async def main():
        run = asyncio.create_task(pipeline.run(stop=asyncio.Event()))
        # A request left before the feed started is meant for an earlier feed: wait for this one.
        while await asyncio.to_thread(heartbeat.heartbeat_read) is None:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(heartbeat.stop_request)
        await asyncio.wait_for(run, 10)

    asyncio.run(main())

    assert heartbeat.heartbeat_read()["state"] == "stopped"
