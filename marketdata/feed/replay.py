"""Replay recorded ticks from a file written by `run_feed --record` (JSON Lines or CSV).

`speed` 1 keeps the recorded pace, 10 plays ten times faster, 0 as fast as possible. The pace
follows the ticks' own `received_at` and is scheduled from the start of the replay, so
sleeping overhead does not accumulate. Unreadable lines are counted in `stats["malformed"]`
and skipped.

`symbols` limits the replay to those symbols' ticks; with `follow_demand` that set follows the
demand at runtime (feed/base.py), so only demanded symbols' ticks are yielded. `symbols` None
(no demand known yet, e.g. the database was away at start) lets every tick through until the
demand is read. Ticks left out are counted in `stats["not_demanded"]`.
"""

import asyncio
import csv
import json
import logging
from collections.abc import AsyncIterator, Collection, Iterator
from pathlib import Path
from typing import Any, TextIO

from marketdata.demand import Demand
from marketdata.feed.base import DemandFollower, FollowsDemand, task_stop
from marketdata.feed.recorder import is_csv, tick_from_record
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

BATCH_TICKS = 500


class ReplaySource(FollowsDemand):
    name = "replay"

    def __init__(
        self,
        *,
        path: Path,
        speed: float = 1.0,
        symbols: Collection[str] | None = None,
        follow_demand: bool = False,
        mode: str = "quote",
    ) -> None:
        self.path = path
        self.speed = speed
        self.symbols = None if symbols is None else frozenset(symbols)
        self.state = "connecting"
        self.stats = {"ticks": 0, "malformed": 0}
        if symbols is not None or follow_demand:
            self.stats["not_demanded"] = 0
        self._follower = (
            DemandFollower(default_mode=mode, apply=self.demand_apply, stats=self.stats)
            if follow_demand
            else None
        )

    def demand_apply(self, demand: Demand) -> None:
        self.symbols = frozenset(demand.symbols())

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        follower = None
        if self._follower is not None:
            follower = asyncio.create_task(self._follower.run(), name="replay-demand")
        try:
            async for batch in self._replay():
                yield batch
        finally:
            if follower is not None:
                await task_stop(follower)

    async def _replay(self) -> AsyncIterator[list[Tick]]:
        loop = asyncio.get_running_loop()
        self.state = "streaming"
        batch: list[Tick] = []
        start: tuple[float, float] | None = None  # (loop time, first tick's timestamp)
        for tick in self._read():
            symbols = self.symbols
            if symbols is not None and tick.symbol not in symbols:
                self.stats["not_demanded"] += 1
                continue
            moment = tick.received_at.timestamp()
            start = start or (loop.time(), moment)
            wait = 0.0
            if self.speed > 0:
                wait = start[0] + (moment - start[1]) / self.speed - loop.time()
            if batch and (wait > 0 or len(batch) >= BATCH_TICKS):
                yield batch
                batch = []
            if wait > 0:
                await asyncio.sleep(wait)
            batch.append(tick)
            self.stats["ticks"] += 1
        if batch:
            yield batch
        self.state = "closed"

    def _read(self) -> Iterator[Tick]:
        with self.path.open(newline="", encoding="utf-8") as handle:
            records = csv.DictReader(handle) if is_csv(self.path) else _json_lines(handle)
            for number, record in enumerate(records, start=1):
                try:
                    tick = tick_from_record(record)
                except (TypeError, ValueError, AttributeError) as exc:
                    self.stats["malformed"] += 1
                    logger.warning("%s record %d skipped: %s", self.path.name, number, exc)
                    continue
                yield tick


def _json_lines(handle: TextIO) -> Iterator[Any]:
    for line in handle:
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                yield exc  # not a dict: the caller counts it as malformed
