"""The feed pipeline in process: buffering, storage, live push, heartbeat and /health."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import time_machine
from channels.layers import get_channel_layer
from django.test import override_settings

from marketdata.feed import heartbeat
from marketdata.feed.pipeline import FeedPipeline, PipelineSettings, TickBuffer
from marketdata.live.publish import tick_group
from marketdata.models import MarketData
from marketdata.tests.conftest import TRADING_DAY, make_tick, make_ticks
from marketdata.ticks import Tick
from trading_signals.health import health_report

EMBEDDED_LAYER = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}


class ListSource:
    """Yields the given batches, then stays connected and silent until cancelled."""

    name = "test"

    def __init__(self, *batches: list[Tick]) -> None:
        self.batches = batches
        self.stats = {"batches": 0}

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        for batch in self.batches:
            self.stats["batches"] += 1
            yield batch
        await asyncio.Event().wait()


def _config(**overrides) -> PipelineSettings:
    values = dict(
        flush_ticks=100,
        flush_seconds=0.01,
        buffer_max_ticks=1000,
        heartbeat_seconds=0.05,
        stop_timeout_seconds=10,
    )
    return PipelineSettings(**{**values, **overrides})


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


@pytest.fixture
def log_dir(tmp_path):
    with override_settings(LOG_DIR=tmp_path):
        yield tmp_path


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
    pipeline = FeedPipeline(source=ListSource(first, again), config=_config())

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
def test_stop_stores_ticks_still_waiting_for_a_flush(log_dir, market_clock):
    pipeline = FeedPipeline(
        source=ListSource(make_ticks(30)), config=_config(flush_seconds=3600, flush_ticks=1000)
    )

    _run_until(pipeline, lambda p: len(p.buffer) == 30)

    assert MarketData.objects.count() == 30


@pytest.mark.django_db(transaction=True)
def test_a_stop_request_stops_a_running_feed(log_dir):
    pipeline = FeedPipeline(source=ListSource(), config=_config())

    async def main():
        run = asyncio.create_task(pipeline.run(stop=asyncio.Event()))
        # A request left before the feed started is meant for an earlier feed: wait for this one.
        while await asyncio.to_thread(heartbeat.heartbeat_read) is None:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(heartbeat.stop_request)
        await asyncio.wait_for(run, 10)

    asyncio.run(main())

    assert heartbeat.heartbeat_read()["state"] == "stopped"


@override_settings(REDIS_URL="")
def test_without_redis_the_heartbeat_is_a_file_in_the_log_dir(log_dir):
    heartbeat.heartbeat_write(beat={"state": "streaming", "received": 3})

    written = json.loads((log_dir / "feed-heartbeat.json").read_text())
    assert written["received"] == 3
    assert heartbeat.heartbeat_read() == written


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("beat", "at", "feed", "healthy"),
    [
        (None, TRADING_DAY, "not running", True),
        ({"state": "streaming"}, TRADING_DAY, "ok", True),
        ({"state": "streaming"}, TRADING_DAY + timedelta(minutes=5), "down", False),
        ({"state": "streaming"}, TRADING_DAY.replace(hour=20), "idle", True),
        ({"state": "stopped"}, TRADING_DAY + timedelta(minutes=5), "stopped", True),
    ],
    ids=["never-started", "fresh", "stale-in-session", "stale-after-close", "stopped"],
)
def test_health_reports_a_stale_feed_down_only_during_the_session(log_dir, beat, at, feed, healthy):
    with time_machine.travel(TRADING_DAY, tick=False) as clock:
        if beat is not None:
            heartbeat.heartbeat_write(beat=beat)
        clock.move_to(at)
        report = health_report()

    assert report["checks"]["feed"] == feed
    assert report["healthy"] is healthy
