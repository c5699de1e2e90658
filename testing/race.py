"""Run calls in threads released together by a barrier, to test what concurrent callers do."""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def run_together(*calls: Callable[[], T], timeout: float = 30) -> list[T]:
    """Call each of `calls` in its own thread, all released at once; their results in order.

    Each thread closes its database connections when it is done (Django opens one per thread).
    Exceptions raised in the threads are raised here, as one group, once all have finished; a
    thread still running after `timeout` seconds is a `TimeoutError`.
    """
    start = threading.Barrier(len(calls))
    results: dict[int, T] = {}
    errors: list[Exception] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            start.wait(timeout)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - raised in the caller's thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"Calls still running after {timeout} s.")
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(calls)} concurrent calls failed", errors)
    return [results[index] for index in range(len(calls))]
