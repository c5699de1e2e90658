"""`make prod`: the production set on this machine, until Ctrl-C or SIGTERM.

    make prod                                              # http://127.0.0.1:8080
    .venv/bin/python -m deploy.prod --bind 0.0.0.0 --port 8080 --server-ports 8001 8002

nginx on `--port`, in front of one server process per `--server-ports` entry; one feed
(`run_feed`: Angel One when its credentials are set, else simulated ticks); the Celery worker
and beat (deploy/processes.py). The configuration is the project's (environment and .env), and
REDIS_URL is required. The database is migrated and the static files collected first. Logs,
nginx's configuration and beat's schedule are written under `--run-dir` (.run/prod).
"""

import argparse
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from deploy.nginx_config import NGINX
from deploy.processes import BASE_DIR, ProcessSet, Topology, set_environment

logger = logging.getLogger("deploy.prod")
USAGE_ERROR = 2
REDIS_REQUIRED = (
    "REDIS_URL is required for make prod: the server processes reach each other's /ws clients, "
    "share the throttle counters and read the feed's heartbeat through Redis, and Celery uses "
    "it as its broker. Start Redis and set REDIS_URL (for example redis://127.0.0.1:6379/0) in "
    "the environment or in .env."
)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument("--bind", default="127.0.0.1", help="nginx's address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument(
        "--server-ports",
        type=int,
        nargs="+",
        default=[8001, 8002],
        help="one server process per port, on 127.0.0.1 (default: 8001 8002; one per core)",
    )
    parser.add_argument(
        "--feed-options",
        default="--ignore-market-hours",
        help="run_feed's options (default: --ignore-market-hours, which only the simulated "
        "source obeys; Angel One ticks are stored in market hours only)",
    )
    parser.add_argument("--run-dir", type=Path, default=BASE_DIR / ".run" / "prod")
    return parser.parse_args(argv)


def _setup(run_dir: Path) -> str | None:
    """Django set up; the database migrated, the static files collected. Why not, if not."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")
    os.environ["LOG_DIR"] = str(run_dir / "logs")
    import django
    import redis
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    if not settings.REDIS_URL:
        return REDIS_REQUIRED
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5).ping()
    except redis.RedisError as exc:
        return f"Redis at REDIS_URL does not answer ({type(exc).__name__}): start it first."
    if not NGINX.exists():
        return f"{NGINX} is missing: run scripts/install_nginx.sh (make prod does)."
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return None


class _Stop:
    """SIGINT and SIGTERM ask the loop to stop the set."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGINT, self._request)
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, number: int, frame: FrameType | None) -> None:
        self.requested = True


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    topology = Topology(
        run_dir=args.run_dir.resolve(),
        port=args.port,
        server_ports=args.server_ports,
        bind=args.bind,
        feed_options=shlex.split(args.feed_options),
    )
    problem = _setup(topology.run_dir)
    if problem:
        logger.error(problem)
        return USAGE_ERROR
    stop = _Stop()
    processes = ProcessSet(topology, set_environment(topology, os.environ))
    processes.start()
    try:
        processes.wait_until_serving()
        logger.info(
            "Serving on %s (nginx -> %s); logs in %s. Ctrl-C stops the set.",
            topology.url,
            ", ".join(f"127.0.0.1:{port}" for port in topology.server_ports),
            topology.log_dir,
        )
        while not stop.requested and not processes.exited():
            time.sleep(0.5)
    except (RuntimeError, TimeoutError) as exc:
        logger.error("The set did not start: %s", exc)
    finally:
        ended = processes.exited()
        statuses = processes.stop()
    for name, status in ended.items():
        logger.error(
            "%s exited with status %s: see %s/%s.log", name, status, topology.log_dir, name
        )
    logger.info("Stopped: %s", ", ".join(f"{name} {code}" for name, code in statuses.items()))
    return 1 if ended or not stop.requested else 0


if __name__ == "__main__":
    sys.exit(main())
