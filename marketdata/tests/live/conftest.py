"""A real daphne process, real Redis, and this test run's database shared with that process.

Rows the tests write must be committed where daphne reads them: the tests are transactional,
and on SQLite, whose test database lives in this process's memory, this process's connection
is moved to a file copy of it that daphne opens too.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import User
from testing.server import serving_process


def _sqlite_copy(directory: Path) -> Path:
    path = directory / "db.sqlite3"
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as copy:
        connection.connection.backup(copy)
    return path


def _sql_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="module")
def sqlite_file(django_db_setup, django_db_blocker, tmp_path_factory) -> Path | None:
    if settings.USES_MONGODB or connection.vendor != "sqlite":
        return None
    with django_db_blocker.unblock():
        return _sqlite_copy(tmp_path_factory.mktemp("live-db"))


@dataclass(frozen=True)
class DaphneServer:
    url: str  # ws://127.0.0.1:<free port>/ws
    pid: int


@pytest.fixture(scope="module")
def daphne_server(sqlite_file, tmp_path_factory) -> Iterator[DaphneServer]:
    """A daphne process sharing our database and Redis."""
    if not settings.REDIS_URL:
        pytest.skip("The live push tests need a Redis server: set REDIS_URL.")
    logs = tmp_path_factory.mktemp("daphne")
    env = {"REDIS_URL": settings.REDIS_URL, "LOG_DIR": str(logs), "WS_SEND_BUFFER_BYTES": "16384"}
    if settings.USES_MONGODB:
        env |= {
            "MONGODB_URL": settings.MONGODB_URL,
            "DATABASE_NAME": connection.settings_dict["NAME"],
        }
    elif sqlite_file is not None:
        env["DATABASE_URL"] = f"sqlite:///{sqlite_file}"
    else:
        env["DATABASE_URL"] = _sql_url()
    with serving_process(env=env, log=logs / "daphne.log", send_buffer=32768) as (port, pid):
        yield DaphneServer(url=f"ws://127.0.0.1:{port}/ws", pid=pid)


@pytest.fixture(scope="module")
def live_url(daphne_server) -> str:
    """`ws://127.0.0.1:<free port>/ws` of that daphne process."""
    return daphne_server.url


@pytest.fixture(scope="module", autouse=True)
def _shared_database(sqlite_file, django_db_blocker) -> Iterator[None]:
    """On SQLite, this module's tests use the file daphne reads; the in-memory database stays
    as it is. Module-scoped, so it is in place before any test's database fixtures."""
    if sqlite_file is None:
        yield
        return
    with django_db_blocker.unblock():
        connection.ensure_connection()
        in_memory, name = connection.connection, connection.settings_dict["NAME"]
        connection.connection = None
        connection.settings_dict["NAME"] = str(sqlite_file)
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            connection.close()
            connection.settings_dict["NAME"] = name
            connection.connection = in_memory


@pytest.fixture
def live_db(transactional_db) -> None:
    """Committed rows, visible to the daphne process (the root conftest reseeds instruments)."""


@pytest.fixture
def trader(live_db) -> User:
    return User.objects.create_user("live@example.com", "Live-Password-7", name="Live")
