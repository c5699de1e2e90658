"""The production set as processes on one machine: nginx in front of the server processes
(`manage.py serve --no-feed --proxy-headers`), one feed (`manage.py run_feed`), the Celery
worker and beat. `make prod` (deploy/prod.py) and `make prod-check` (deploy/check.py) start
the same set.

Each process runs in its own session, so a Ctrl-C in the terminal reaches only the supervisor,
which stops them in order; each writes to `<run dir>/logs/<name>.log`. When one of them exits,
the supervisor stops the rest (as foreman and honcho do): run the set under systemd (or a
container runtime) for restarts.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from deploy.nginx_config import PER_IP_CONNECTIONS, Site, local_config_write, nginx_command

BASE_DIR = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]
STOP_SECONDS = 25  # the feed gets FEED_STOP_TIMEOUT_SECONDS (20) to store what it holds


@dataclass(frozen=True)
class Topology:
    """Where the set listens and writes."""

    run_dir: Path
    port: int = 8080  # nginx
    server_ports: Sequence[int] = (8001, 8002)
    bind: str = "127.0.0.1"  # nginx's address; the server processes listen on 127.0.0.1 only
    static_root: Path = BASE_DIR / "staticfiles"
    feed_options: Sequence[str] = ("--ignore-market-hours",)
    per_ip_connections: int = PER_IP_CONNECTIONS
    name_upstream: bool = False  # make prod-check's X-Upstream header (deploy/nginx_config.py)

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind  # noqa: S104 - compared, not bound
        return f"http://{host}:{self.port}"

    def site(self) -> Site:
        return Site(
            listen=f"{self.bind}:{self.port}",
            servers=[f"127.0.0.1:{port}" for port in self.server_ports],
            static_root=str(self.static_root),
            access_log=str(self.log_dir / "nginx-access.log"),
            per_ip_connections=self.per_ip_connections,
            name_upstream=self.name_upstream,
        )


@dataclass(frozen=True)
class Program:
    name: str
    command: Sequence[str]


def programs(topology: Topology) -> list[Program]:
    """The set, in the order it starts: nginx last, in front of servers already listening.
    Writes nginx's configuration under the run directory."""
    servers = [
        Program(
            f"server-{port}",
            [
                *MANAGE,
                "serve",
                "--no-feed",
                "--proxy-headers",
                "--bind=127.0.0.1",
                f"--port={port}",
            ],
        )
        for port in topology.server_ports
    ]
    celery = [sys.executable, "-m", "celery", "-A", "trading_signals"]
    schedule = topology.run_dir / "celerybeat-schedule"
    config = local_config_write(
        site=topology.site(), run_dir=topology.run_dir / "nginx", log_dir=topology.log_dir
    )
    return [
        *servers,
        Program("feed", [*MANAGE, "run_feed", *topology.feed_options]),
        Program("worker", [*celery, "worker", "--loglevel=INFO", "--concurrency=2"]),
        Program("beat", [*celery, "beat", "--loglevel=INFO", f"--schedule={schedule}"]),
        Program("nginx", nginx_command(config=config, log_dir=topology.log_dir)),
    ]


def set_environment(topology: Topology, base: Mapping[str, str]) -> dict[str, str]:
    """What every process of the set gets: `base`, plus what the topology implies."""
    return {
        "NUM_PROXIES": "1",  # nginx; unless `base` says otherwise
        **base,
        "LOG_DIR": str(topology.log_dir),
        # This set runs the one feed itself: beat's supervisor would stop it out of hours.
        "FEED_SUPERVISOR_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class ProcessSet:
    topology: Topology
    env: Mapping[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def start(self) -> None:
        self.topology.log_dir.mkdir(parents=True, exist_ok=True)
        for program in programs(self.topology):
            log = (self.topology.log_dir / f"{program.name}.log").open("ab")
            self._logs.append(log)
            self.running[program.name] = subprocess.Popen(
                program.command,
                cwd=BASE_DIR,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops them in order
            )

    def exited(self) -> dict[str, int]:
        """The processes that have ended, with their exit status."""
        return {
            name: code
            for name, process in self.running.items()
            if (code := process.poll()) is not None
        }

    def wait_until_serving(self, *, timeout: float = 60) -> None:
        """Until each server process and nginx answer /health (any status: they are up)."""
        urls = [f"http://127.0.0.1:{port}/health" for port in self.topology.server_ports]
        urls.append(f"{self.topology.url}/health")
        deadline = time.monotonic() + timeout
        for url in urls:
            while not _answers(url):
                if self.exited():
                    raise RuntimeError(f"exited while starting: {self.exited()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
                time.sleep(0.2)

    def stop(self) -> dict[str, int]:
        """SIGTERM to each (nginx first: no new requests), then SIGKILL to any process group
        still there after STOP_SECONDS; the exit status of each."""
        for name in reversed(list(self.running)):
            _signal(self.running[name], signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        statuses = {}
        for name, process in self.running.items():
            try:
                statuses[name] = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                statuses[name] = process.wait()
            # What it started and left behind (celery's pool, nginx's workers) goes too.
            _signal_group(process, signal.SIGKILL)
        for log in self._logs:
            log.close()
        return statuses


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a local http URL
            return True
    except urllib.error.HTTPError:
        return True  # 503 is an answer: the server is up, a dependency is not
    except OSError:
        return False


def _signal(process: subprocess.Popen[bytes], number: int) -> None:
    if process.poll() is None:
        process.send_signal(number)


def _signal_group(process: subprocess.Popen[bytes], number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone
        os.killpg(process.pid, number)
