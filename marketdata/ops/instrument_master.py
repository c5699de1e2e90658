"""The daily instrument master sync, before the open: Angel One's scrip master from
ANGEL_ONE_SCRIP_MASTER_URL, streamed into `Instrument` (`marketdata.instruments`).

Celery beat runs it at INSTRUMENTS_SYNC_AT (IST) through `marketdata.tasks`; without beat,
`manage.py serve --supervise` runs `instruments_sync_forever`, which syncs once a day at that
time (or as soon as the server starts, if it starts later in the day). A download that fails
(no network, a refused or cut-off download) is logged as a warning and tried again the next
day: it never stops the worker or the server. INSTRUMENTS_SYNC_DAILY=false turns it off.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from datetime import date, datetime

from django.conf import settings
from django.db import connections

from marketdata.instruments import InstrumentSyncResult, MasterUnreadableError, instruments_sync_url
from marketdata.market_calendar import IST

logger = logging.getLogger(__name__)

CHECK_SECONDS = 60  # how often the in-process loop looks at the clock


def instruments_sync_daily() -> InstrumentSyncResult | None:
    """Sync the master from its URL; None when turned off or when the master is unreadable."""
    if not settings.INSTRUMENTS_SYNC_DAILY:
        logger.info("The daily instrument master sync is off (INSTRUMENTS_SYNC_DAILY=false)")
        return None
    try:
        return instruments_sync_url(url=settings.ANGEL_ONE_SCRIP_MASTER_URL)
    except MasterUnreadableError as error:
        logger.warning("%s The instruments stay as they were; the next sync is tomorrow.", error)
        return None


def instruments_sync_due(*, now: datetime, last_day: date | None) -> bool:
    """Whether the in-process loop syncs now: on, past INSTRUMENTS_SYNC_AT (IST) today, and not
    yet tried today."""
    moment = now.astimezone(IST)
    return (
        settings.INSTRUMENTS_SYNC_DAILY
        and moment.date() != last_day
        and moment.time() >= settings.INSTRUMENTS_SYNC_AT
    )


def _sync_and_close() -> None:
    try:
        instruments_sync_daily()
    finally:
        connections.close_all()  # this thread's connections: it ends with the sync


async def _in_daemon_thread(job: Callable[[], object]) -> None:
    """Run `job` in a daemon thread and wait for it: a server stopping mid-sync does not wait
    for it (each batch is its own transaction, so nothing half-written remains)."""
    done: Future[object] = Future()

    def run() -> None:
        try:
            done.set_result(job())
        except BaseException as error:  # noqa: BLE001 - raised again where it is awaited
            done.set_exception(error)

    threading.Thread(target=run, name="instrument-master-sync", daemon=True).start()
    await asyncio.wrap_future(done)


async def instruments_sync_forever(
    *, stop: asyncio.Event, job: Callable[[], object] = _sync_and_close
) -> None:
    """Once a day at INSTRUMENTS_SYNC_AT, run `job` (the sync) off the event loop, until
    `stop` is set. A failed sync is logged and the loop goes on."""
    last_day: date | None = None
    while not stop.is_set():
        now = datetime.now(tz=IST)
        if instruments_sync_due(now=now, last_day=last_day):
            last_day = now.date()
            try:
                await _in_daemon_thread(job)
            except Exception:
                logger.exception("The daily instrument master sync failed; next try tomorrow")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
