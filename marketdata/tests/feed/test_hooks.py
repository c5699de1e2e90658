"""After-store hooks: other apps react to the ticks the feed stores, without marketdata importing them."""

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
    """Only the hooks a test registers itself (signals registers one at start-up)."""
    monkeypatch.setattr(hooks, "_after_store", [])


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
