"""What every feed source provides, and the names the pipeline and `run_feed` rely on.

A source is any object with these attributes. `ticks()` is an async generator yielding
batches of normalized ticks until the source is exhausted (replay) or closed. The pipeline
stops a source by cancelling the task that iterates it, so a source closes its connections
in a `finally:` block (or `async with`) around its loop.

A source may also expose `state: str`, one of `SOURCE_STATES`; the heartbeat reports it.
Sources without it are reported as "streaming" once their first batch arrives.
"""

from collections.abc import AsyncIterator
from typing import Protocol

from marketdata.ticks import Tick

SOURCE_STATES = ("connecting", "streaming", "reconnecting", "waiting", "closed")


class TickSource(Protocol):
    name: str
    stats: dict[str, int]  # counters it exposes (frames, malformed, reconnects...)

    def ticks(self) -> AsyncIterator[list[Tick]]: ...
