"""In-process feed pipelines for tests: quick settings, and a source yielding given batches."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from marketdata.feed.pipeline import PipelineSettings
from marketdata.ticks import Tick


class ListSource:
    """Yields the given batches, then stays connected and silent until cancelled (or, with
    `stay_connected=False`, ends as a finished replay does)."""

    name = "test"

    def __init__(self, *batches: list[Tick], stay_connected: bool = True) -> None:
        self.batches = batches
        self.stay_connected = stay_connected
        self.stats = {"batches": 0}

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        for batch in self.batches:
            self.stats["batches"] += 1
            yield batch
        if self.stay_connected:
            await asyncio.Event().wait()


def pipeline_config(**overrides: Any) -> PipelineSettings:
    """Settings that flush at once and beat often; `overrides` replace any of them."""
    values = dict(
        flush_ticks=100,
        flush_seconds=0.01,
        buffer_max_ticks=1000,
        heartbeat_seconds=0.05,
        stop_timeout_seconds=10,
    )
    return PipelineSettings(**{**values, **overrides})
