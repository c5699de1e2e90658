"""bench/ws's variant n: server processes of the product behind nginx, as `make prod` runs them.

Each server process runs variant a's command with `--proxy-headers` (as `manage.py serve
--no-feed --proxy-headers` does in production) and subscribes through the same Redis. nginx
runs the production site (deploy/nginx/site.conf.in, rendered by deploy/nginx_config.py) from a
run directory of its own, with the per-address connection limit above the client count: every
client comes from 127.0.0.1. No feed, worker or beat: the bench's publisher publishes.

nginx spreads the /ws connections round robin over the processes, and its access log names
the process each one went to (a WebSocket connection is logged when it closes).
"""

import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.nginx_config import Site, local_config_write, nginx_command
from testing.server import serving, wait_until_serving

SERVER_PROCESSES = 2
PER_IP_HEADROOM = 16  # nginx's own /health probes besides the clients
LOG_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Proxied:
    """nginx on `port` in front of `servers` (host:port)."""

    port: int
    servers: Sequence[str]
    access_log: Path

    def clients_per_server(self, *, clients: int) -> tuple[int, ...]:
        """The /ws connections nginx passed to each server process, in `servers`' order,
        once the `clients` connections that closed are all logged (or LOG_WAIT_SECONDS)."""
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            counts = self._upgrades()
            if counts.total() >= clients or time.monotonic() > deadline:
                return tuple(counts[server] for server in self.servers)
            time.sleep(0.1)

    def _upgrades(self) -> Counter[str]:
        """Per upstream address, the /ws requests answered 101 (the site's `no_query` format:
        ... "GET /ws HTTP/1.1" 101 bytes seconds upstream)."""
        counts: Counter[str] = Counter()
        if not self.access_log.exists():
            return counts
        for entry in self.access_log.read_text().splitlines():
            fields = entry.split()
            if '"GET /ws' in entry and len(fields) >= 4 and fields[-4] == "101":
                counts[fields[-1]] += 1
        return counts


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port: int = listener.getsockname()[1]
        return port


@contextmanager
def _nginx(config: Path, log_dir: Path, port: int) -> Iterator[None]:
    with (log_dir / "nginx.log").open("wb") as output:
        process = subprocess.Popen(
            nginx_command(config=config, log_dir=log_dir), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(port, process, time.monotonic() + 30)
        yield
    finally:
        process.terminate()  # nginx's fast shutdown: its workers exit with it
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serving_behind_nginx(
    *, command: Sequence[str], env: dict[str, str], workdir: Path, clients: int
) -> Iterator[Proxied]:
    """SERVER_PROCESSES of `command` (with `{fd}`, as testing.server runs it) behind nginx;
    configuration and logs in a new directory under `workdir`."""
    run_dir = Path(tempfile.mkdtemp(prefix="nginx-", dir=workdir))
    server_command = [*command[:-1], "--proxy-headers", command[-1]]
    with ExitStack() as stack:
        ports = [
            stack.enter_context(
                serving(
                    env={**env, "NUM_PROXIES": "1"},
                    log=run_dir / f"server-{i + 1}.log",
                    command=server_command,
                )
            )
            for i in range(SERVER_PROCESSES)
        ]
        proxied = Proxied(
            port=_free_port(),
            servers=[f"127.0.0.1:{port}" for port in ports],
            access_log=run_dir / "nginx-access.log",
        )
        site = Site(
            listen=f"127.0.0.1:{proxied.port}",
            servers=proxied.servers,
            static_root=str(run_dir / "static"),  # no static files are asked for
            access_log=str(proxied.access_log),
            per_ip_connections=clients + PER_IP_HEADROOM,
        )
        config = local_config_write(site=site, run_dir=run_dir / "nginx", log_dir=run_dir)
        stack.enter_context(_nginx(config, run_dir, proxied.port))
        yield proxied
