"""`manage.py serve`: daphne serving the API and `/ws`, with the feed in the same process (the embedded set-up)."""

# daphne.server (imported by live.server) installs Twisted's asyncio reactor; it must be
# imported before anything else imports twisted.internet.reactor.
from marketdata.live.server import Server  # isort:skip

import asyncio
import logging
import os
from datetime import datetime
from typing import Any

from daphne.endpoints import build_endpoint_description_strings
from daphne.management.commands.runserver import get_default_application
from django.core.management.base import BaseCommand, CommandError, CommandParser
from twisted.internet import defer, reactor

from marketdata.feed.cli import (
    USAGE_ERROR,
    add_feed_arguments,
    feed_pipeline_build,
    feed_run,
    feed_source_build,
)
from marketdata.feed.errors import FeedConfigurationError
from marketdata.feed.pipeline import FeedPipeline
from marketdata.ops.instrument_master import instruments_sync_forever
from marketdata.ops.supervisor import feed_supervise_forever
from marketdata.tasks import ticks_backfill

logger = logging.getLogger(__name__)

# What daphne's own --proxy-headers sets.
PROXY_HEADERS = {
    "proxy_forwarded_address_header": "X-Forwarded-For",
    "proxy_forwarded_port_header": "X-Forwarded-Port",
    "proxy_forwarded_proto_header": "X-Forwarded-Proto",
}


class _Server(Server):
    def listen_success(self, port: Any) -> None:
        super().listen_success(port)
        host = port.getHost()
        logger.info("Serving on http://%s:%d", host.host, host.port)


class _EmbeddedFeed:
    """The feed pipeline as a task on daphne's event loop, stopped before the reactor shuts down."""

    def __init__(self, pipeline: FeedPipeline) -> None:
        self.pipeline = pipeline
        self.error: FeedConfigurationError | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            await feed_run(pipeline=self.pipeline, stop=self._stop, duration=None)
        except FeedConfigurationError as exc:
            self.error = exc
            reactor.stop()
        except Exception:
            logger.exception("The feed failed; the server goes on without it")

    def stop(self) -> defer.Deferred[None] | None:
        """A 'before shutdown' trigger: the reactor waits for the flush to finish."""
        self._stop.set()
        if self._task is None or self._task.done():
            return None
        return defer.Deferred.fromFuture(self._task)


class _SupervisedFeed:
    """The feed as the in-process supervisor starts and stops it (--supervise): the same rules
    as Celery beat's supervisor (marketdata/ops/supervisor.py), for set-ups without Celery;
    and the daily instrument master sync that beat would run."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.stop_event = asyncio.Event()
        self.feed: _EmbeddedFeed | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: list[asyncio.Future[None]] = []

    def begin(self) -> None:
        self.loop = asyncio.get_event_loop()
        self.tasks = [
            asyncio.ensure_future(
                feed_supervise_forever(
                    start=self.launch, backfill=self.backfill, stop=self.stop_event
                )
            ),
            asyncio.ensure_future(instruments_sync_forever(stop=self.stop_event)),
        ]

    def launch(self) -> int:
        """The supervisor's start hook, called from its thread: build there, run on the loop."""
        source = feed_source_build(self.options)
        feed = _EmbeddedFeed(feed_pipeline_build(source=source, options=self.options))
        assert self.loop is not None  # set by begin(), which starts the supervisor
        self.loop.call_soon_threadsafe(self._run, feed)
        return os.getpid()

    @staticmethod
    def backfill(start: datetime, end: datetime) -> None:
        """The supervisor's backfill hook, called from its thread after an outage."""
        ticks_backfill.delay(start=start.isoformat(), end=end.isoformat())

    def _run(self, feed: _EmbeddedFeed) -> None:
        self.feed = feed
        feed.start()

    def stop(self) -> defer.Deferred[None] | None:
        self.stop_event.set()
        return self.feed.stop() if self.feed else None


class Command(BaseCommand):
    help = (
        "Serve the REST API and the /ws live push with daphne and, in the same process and event "
        "loop, run the feed (as run_feed would). One process is what the embedded defaults need: "
        "without REDIS_URL the channel layer lives in memory and only reaches clients of the "
        "process that publishes. With Redis it works the same, and run_feed may instead run "
        "apart. SIGINT/SIGTERM store the buffered ticks, then stop the server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument(
            "--port", type=int, default=8000, help="Port to listen on (0: any free port)."
        )
        parser.add_argument(
            "--no-feed", action="store_true", help="Serve only; run the feed elsewhere."
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="Behind a reverse proxy: take the client's address and scheme from "
            "X-Forwarded-For, X-Forwarded-Port and X-Forwarded-Proto.",
        )
        parser.add_argument(
            "--supervise",
            action="store_true",
            help="Run the feed only in market hours (from a few minutes before the open), "
            "restarting it with backoff if it dies: the feed supervisor, in this process, for "
            "set-ups without Celery beat; it also syncs the instrument master daily, as beat "
            "would (see docs/celery.md).",
        )
        add_feed_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        feed = None
        if not options["no_feed"]:
            try:
                source = feed_source_build(options)
            except FeedConfigurationError as exc:
                raise CommandError(
                    f"{exc.variable}: {exc.message}", returncode=USAGE_ERROR
                ) from exc
            if options["supervise"]:
                supervised = _SupervisedFeed(options)
                reactor.callWhenRunning(supervised.begin)
                reactor.addSystemEventTrigger("before", "shutdown", supervised.stop)
            else:
                feed = _EmbeddedFeed(feed_pipeline_build(source=source, options=options))
                reactor.callWhenRunning(feed.start)
                reactor.addSystemEventTrigger("before", "shutdown", feed.stop)
        if options["duration"]:
            reactor.callLater(options["duration"], reactor.stop)
        server = _Server(
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(
                host=options["bind"], port=options["port"]
            ),
            verbosity=options["verbosity"],
            **(PROXY_HEADERS if options["proxy_headers"] else {}),
        )
        server.run()
        if feed is not None and feed.error is not None:
            error = feed.error
            raise CommandError(f"{error.variable}: {error.message}", returncode=USAGE_ERROR)
