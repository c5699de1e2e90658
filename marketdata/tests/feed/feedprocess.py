"""Helpers for tests that run `manage.py run_feed` / `serve` as real processes.

The child process must see the test database: on PostgreSQL it connects to the test database
itself (tests are transactional, so rows are committed both ways); SQLite's test database is
in memory, so it is copied to a file for the child and copied back when the child is done.
"""

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from marketdata.feed.recorder import TickRecorder
from marketdata.ticks import Tick

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


@dataclass
class FeedDatabase:
    url: str
    file: Path | None = None

    def sync(self) -> None:
        """Make what the child stored visible to this test's connection."""
        if self.file is not None:
            connection.ensure_connection()
            with sqlite3.connect(self.file) as child:
                child.backup(connection.connection)


def feed_database(tmp_path: Path) -> FeedDatabase:
    """Call from a `transactional_db` test or fixture."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        path = tmp_path / "feed.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(path) as copy:
            connection.connection.backup(copy)
        return FeedDatabase(url=f"sqlite:///{path}", file=path)
    return FeedDatabase(url=database_url(port=int(config["PORT"] or 5432)))


def database_url(*, port: int) -> str:
    """The PostgreSQL test database's URL, reached through `port` (a proxy's, or the server's)."""
    config = connection.settings_dict
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    host = config["HOST"] or "127.0.0.1"
    return f"postgres://{config['USER']}{password}@{host}:{port}/{config['NAME']}"


def feed_env(*, database: str, log_dir: Path, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANGEL_ONE_", "MONGODB"))}
    env.update(
        DATABASE_URL=database,
        REDIS_URL=settings.REDIS_URL,
        LOG_DIR=str(log_dir),
        DJANGO_SETTINGS_MODULE="trading_signals.settings",
        FEED_HEARTBEAT_SECONDS="0.2",
        # Credentials a developer's .env may hold must not pick the live source in tests.
        ANGEL_ONE_API_KEY="",
        ANGEL_ONE_CLIENT_ID="",
        ANGEL_ONE_PASSWORD="",
        ANGEL_ONE_TOTP_KEY="",
        # `serve --supervise` would download the real instrument master: tests that want the
        # daily sync turn it on, with the peer's master.
        INSTRUMENTS_SYNC_DAILY="false",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


_started: list[subprocess.Popen] = []


def feed_start(command: str, args: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, MANAGE, command, *args],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _started.append(process)
    return process


def feeds_kill() -> None:
    """Kill what a failed test left running (each process by its own pid)."""
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


def feed_finish(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    """Wait for the process; return its exit status and what it logged."""
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def recording_write(path: Path, ticks: Sequence[Tick]) -> Path:
    recorder = TickRecorder(path)
    recorder.write(ticks)
    recorder.close()
    return path


class TcpProxy:
    """Forwards a local port to the database server; `cut()` makes the database unreachable.

    While cut, every open connection is closed and new ones are closed as soon as accepted:
    to the feed this is the database server going away.
    """

    def __init__(self, *, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.is_cut = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self.is_cut = True
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self.is_cut:
                    client.close()
                    continue
                server = socket.create_connection(self.target)
                self._open.update((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
