"""A server command (the project's daphne by default) in a subprocess on a free 127.0.0.1 port.

Used by the live push tests (marketdata) and by bench/ws.
"""

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
# daphne's command line, serving with the server `manage.py serve` runs (no form parsing).
DAPHNE = [
    sys.executable,
    "-m",
    "marketdata.live.server",
    "--fd",
    "{fd}",
    "trading_signals.asgi:application",
]


def wait_until_serving(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    """Until `port` answers /health: a socket bound before the child started accepts at once,
    so a connection is not enough."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited with status {process.returncode}.")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/health")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    raise TimeoutError("The server did not answer in time.")


@contextmanager
def serving(
    *,
    env: dict[str, str],
    log: Path,
    command: Sequence[str] = DAPHNE,
    send_buffer: int | None = None,
    timeout: float = 60,
) -> Iterator[int]:
    """`serving_process`, yielding the port only."""
    with serving_process(
        env=env, log=log, command=command, send_buffer=send_buffer, timeout=timeout
    ) as (port, _pid):
        yield port


@contextmanager
def serving_process(
    *,
    env: dict[str, str],
    log: Path,
    command: Sequence[str] = DAPHNE,
    send_buffer: int | None = None,
    timeout: float = 60,
) -> Iterator[tuple[int, int]]:
    """Start `command` (with `{fd}` standing for a listening socket); yield its port and pid.

    `send_buffer` fixes the kernel's send buffer of every accepted connection (they inherit
    it from the listening socket), so a test can fill it without megabytes of data.
    """
    listener = socket.create_server(("127.0.0.1", 0), backlog=2048)
    if send_buffer is not None:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    port = listener.getsockname()[1]
    fd = str(listener.fileno())
    with log.open("wb") as output:
        process = subprocess.Popen(
            [part.replace("{fd}", fd) for part in command],
            pass_fds=[listener.fileno()],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "trading_signals.settings", **env},
            cwd=BASE_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    listener.close()
    try:
        wait_until_serving(port, process, time.monotonic() + timeout)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
