"""After-store hooks: what other apps do with ticks the feed has just stored.

`marketdata` knows nothing of the apps built on it: an app registers a hook (signals closes
the signals whose target or stop loss the new ticks reach) from its `AppConfig.ready`, and
the feed pipeline calls every hook with each batch of newly stored ticks.
"""

import logging
from collections.abc import Callable, Sequence

from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

AfterStoreHook = Callable[..., object]  # called as hook(ticks=...)

_after_store: list[AfterStoreHook] = []


def after_store_register(hook: AfterStoreHook) -> None:
    """Call `hook(ticks=...)` after each stored batch; registering twice changes nothing."""
    if hook not in _after_store:
        _after_store.append(hook)


def after_store_run(*, ticks: Sequence[Tick]) -> None:
    """Run every hook; one that fails is logged and the others still run (the ticks are stored,
    and the next batch runs the hooks again)."""
    for hook in _after_store:
        try:
            hook(ticks=ticks)
        except Exception:
            logger.exception("The after-store hook %s failed", getattr(hook, "__qualname__", hook))
