"""Waiting for what another process or thread does: tests and benchmarks alike."""

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    check: Callable[[], Any], *, what: str, timeout: float, interval: float = 0.05
) -> Any:
    """Call `check` every `interval` seconds until it returns something true, and return that;
    an AssertionError naming `what` when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}")
