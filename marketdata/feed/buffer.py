"""The feed's storage buffer: ticks received and not yet stored, bounded, oldest dropped first."""

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence

from marketdata.ticks import Tick


class TickBuffer:
    """Ticks received and not yet stored, at most `limit` of them (the batch in flight included)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.closed = False
        self._ticks: deque[Tick] = deque()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._ticks) + self.in_flight

    def add(self, ticks: Sequence[Tick]) -> int:
        """Append `ticks`; return how many of the oldest waiting ticks were dropped to fit."""
        self._ticks.extend(ticks)
        overflow = min(len(self) - self.limit, len(self._ticks))
        for _ in range(max(overflow, 0)):
            self._ticks.popleft()
        self._changed.set()
        return max(overflow, 0)

    def close(self) -> None:
        """No more ticks will come: the writer drains what is left and ends."""
        self.closed = True
        self._changed.set()

    async def wait(self, *, count: int, max_wait: float) -> None:
        """Return once `count` ticks wait, `max_wait` passed since some did, or it closed."""
        loop = asyncio.get_running_loop()
        deadline = None
        while len(self._ticks) < count and not self.closed:
            if self._ticks and deadline is None:
                deadline = loop.time() + max_wait
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def take(self, count: int) -> list[Tick]:
        batch = [self._ticks.popleft() for _ in range(min(count, len(self._ticks)))]
        self.in_flight = len(batch)
        return batch

    def done(self) -> None:
        self.in_flight = 0
