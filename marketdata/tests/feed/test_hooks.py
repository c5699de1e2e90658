"""Feed hooks: other apps react to the ticks the feed pushes live (live hooks) and to those it
stores (after-store hooks), without marketdata importing them."""

import asyncio
import logging

import pytest

from marketdata.feed import hooks
from marketdata.feed.pipeline import FeedPipeline
from marketdata.tests.conftest import make_ticks
from marketdata.tests.feed.pipelines import ListSource, pipeline_config
from marketdata.ticks import Tick


@pytest.fixture
def no_hooks(monkeypatch):
    """Only the hooks a test registers itself (signals registers one of each at start-up)."""
    monkeypatch.setattr(hooks, "_after_store", [])
    monkeypatch.setattr(hooks, "_live", [])


def test_a_failing_hook_is_logged_and_the_others_still_run(no_hooks, caplog):
    seen: list[int] = []

    def broken(*, ticks: list[Tick]) -> None:
        raise RuntimeError("boom")

    def counting(*, ticks: list[Tick]) -> None:
        seen.append(len(ticks))

    hooks.after_store_register(broken)
    hooks.after_store_register(counting)
    hooks.after_store_register(counting)  # registering twice changes nothing

    with caplog.at_level(logging.ERROR, logger="marketdata.feed.hooks"):
        hooks.after_store_run(ticks=make_ticks(3))

    assert seen == [3]
    assert "broken" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_pipeline_hands_each_hook_the_ticks_it_stored_and_not_the_duplicates(
    no_hooks, market_clock, log_dir
):
    stored: list[Tick] = []
    hooks.after_store_register(lambda *, ticks: stored.extend(ticks))
    batch = make_ticks(5)
    config = pipeline_config(heartbeat_seconds=60)

    async def run() -> None:
        # The same ticks twice: the second time every one is a duplicate, and no hook hears of it.
        for _ in range(2):
            pipeline = FeedPipeline(
                source=ListSource(list(batch), stay_connected=False), config=config
            )
            await pipeline.run(stop=asyncio.Event())

    asyncio.run(run())

    assert sorted(t.received_at for t in stored) == sorted(t.received_at for t in batch)


@pytest.mark.django_db(transaction=True)
def test_live_hooks_hear_every_pushed_tick_watched_or_not(no_hooks, market_clock, log_dir):
    """The live thread calls them with what it pushes (not only what /ws clients watch), and
    a failing one stops neither the push nor the store."""
    heard: list[Tick] = []

    def broken(*, ticks: list[Tick]) -> None:
        raise RuntimeError("boom")

    hooks.live_register(broken)
    hooks.live_register(lambda *, ticks: heard.extend(ticks))
    source = ListSource(make_ticks(3, "NIFTY") + make_ticks(2, "SENSEX"), stay_connected=False)
    source.watched = frozenset({"NIFTY"})  # type: ignore[attr-defined]
    pipeline = FeedPipeline(source=source, config=pipeline_config(heartbeat_seconds=60))

    counters = asyncio.run(pipeline.run(stop=asyncio.Event()))

    assert sorted(tick.symbol for tick in heard) == ["NIFTY"] * 3 + ["SENSEX"] * 2
    assert counters.stored == 5
