"""Feed hooks: what other apps do with the ticks the feed pushes live, and with those it stores.

`marketdata` knows nothing of the apps built on it: an app registers its hooks from its
`AppConfig.ready` (signals prices its ACTIVE signals as their options tick, and closes those
whose target or stop loss the stored ticks reach), and the feed pipeline calls them.

- **live hooks**, `hook(ticks=...)` in the live thread with each batch just pushed to `/ws`,
  before it is stored. They must be quick and must not touch the database (the live push goes
  on through a database outage): a symbol lookup per tick, at most.
- **after-store hooks**, `hook(ticks=...)` in the writer thread with each batch of newly
  stored ticks (each tick once, when it is first stored).
"""

import logging
from collections.abc import Callable, Sequence

from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

Hook = Callable[..., object]  # called as hook(ticks=...)

_live: list[Hook] = []
_after_store: list[Hook] = []


def _register(hooks: list[Hook], hook: Hook) -> None:
    if hook not in hooks:
        hooks.append(hook)


def _run(hooks: list[Hook], ticks: Sequence[Tick], when: str) -> None:
    """Run every hook; one that fails is logged and the others still run."""
    for hook in hooks:
        try:
            hook(ticks=ticks)
        except Exception:
            logger.exception("The %s hook %s failed", when, getattr(hook, "__qualname__", hook))


def live_register(hook: Hook) -> None:
    """Call `hook(ticks=...)` with each batch pushed live; registering twice changes nothing."""
    _register(_live, hook)


def live_run(*, ticks: Sequence[Tick]) -> None:
    """Run the live hooks (a failure never stops the live push)."""
    _run(_live, ticks, "live")


def after_store_register(hook: Hook) -> None:
    """Call `hook(ticks=...)` after each stored batch; registering twice changes nothing."""
    _register(_after_store, hook)


def after_store_run(*, ticks: Sequence[Tick]) -> None:
    """Run the after-store hooks (the ticks are stored, and the next batch runs them again)."""
    _run(_after_store, ticks, "after-store")
