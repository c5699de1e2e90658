"""`make prod-check`: start the production set on this machine and check it through nginx.

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python -m deploy.check [--database-url URL]

The set is `make prod`'s (deploy/processes.py): nginx in front of two server processes, one
feed (simulated, a batch of the six indices every 50 ms), the Celery worker and beat, on free
ports, in production settings (no TLS here: SECURE_SSL_REDIRECT off), with a database of its
own (SQLite in the run directory unless `--database-url`) and the Redis database of REDIS_URL
(give it one of its own). Checked, in order: static files, REST, body limits, the admin login,
`/ws` ticks on both server processes, form bodies that stall no client's ticks, slowloris and
slow bodies cut by nginx while the API answers, the per-address connection limit; then
everything it started must have stopped. Prints each check's result; exits 0 only if all hold.
"""

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import sys
import time
from pathlib import Path

from deploy.check_http import (
    PASSWORD,
    Address,
    Outcome,
    admin_check,
    body_limits_check,
    get,
    rest_check,
    static_check,
)
from deploy.check_live import (
    FormPost,
    TickClients,
    both_servers_check,
    form_body,
    stall_check,
)
from deploy.check_slow import per_ip_limit_check, slowloris_check
from deploy.processes import BASE_DIR, ProcessSet, Topology, set_environment

TICK_INTERVAL = 0.05
WS_CLIENTS = 8
FORM_PARTS = 100_000  # 5.7 MB
ADMIN_FORM_PARTS = 17_000  # just under nginx's 1 MB for /admin/


def _free_ports(count: int) -> list[int]:
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _environment(topology: Topology, *, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": "",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ALLOWED_ORIGINS": topology.url,
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on this machine
        "DATABASE_URL": database_url,
        "MONGODB_URL": "",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "INFO",
    }


def _prepare(env: dict[str, str], *, admin_email: str) -> list[str]:
    """Migrate, collect the static files, add a staff user; the symbols to subscribe to."""
    os.environ.update(env, LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="trading_signals.settings")
    import django
    from django.core.management import call_command

    django.setup()
    from accounts.models import User
    from marketdata.market_calendar import INDICES

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    User.objects.create_superuser(admin_email, PASSWORD, name="Check admin")
    return [symbol for _token, symbol, *_ in INDICES]


def _feed_running(nginx: Address, *, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = get(nginx, "/health")
        if answer.status == 200 and answer.json()["checks"]["feed"] == "ok":
            return True
        time.sleep(0.5)
    return False


class Results:
    """Each check's outcome, printed as it comes."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        print(f"{'PASS' if outcome.ok else 'FAIL'}  {outcome.name}: {outcome.detail}", flush=True)

    def failed(self) -> list[str]:
        return [outcome.name for outcome in self.outcomes if not outcome.ok]


def _form_posts(topology: Topology, nginx: Address) -> list[FormPost]:
    server = f"127.0.0.1:{topology.server_ports[0]}"
    big = form_body(FORM_PARTS)
    csrf = get(nginx, "/admin/login/").cookies().get("csrftoken", "")
    # With the CSRF token, so that Django reads the admin form (up to its 1,000 fields).
    admin_form = form_body(ADMIN_FORM_PARTS, first=("csrfmiddlewaretoken", csrf))
    return [
        FormPost("form body via nginx", nginx, "nginx", "/health", big, expected=413),
        FormPost(
            f"form body to {server} directly",
            ("127.0.0.1", topology.server_ports[0]),
            server,
            "/health",
            big,
            expected=413,  # by Django, from the declared size
        ),
        FormPost(
            f"admin form of {ADMIN_FORM_PARTS:,} parts via nginx",
            nginx,
            "nginx",
            "/admin/login/",
            admin_form,
            expected=400,  # more than DATA_UPLOAD_MAX_NUMBER_FIELDS
            cookie=f"csrftoken={csrf}",
        ),
    ]


async def _checks(
    topology: Topology, nginx: Address, results: Results, *, admin_email: str, symbols: list[str]
) -> None:
    results.add(static_check(nginx))
    rest, token = rest_check(nginx)
    results.add(rest)
    results.add(body_limits_check(nginx))
    results.add(admin_check(nginx, email=admin_email, password=PASSWORD))
    if token is None:
        return
    servers = [f"127.0.0.1:{port}" for port in topology.server_ports]
    clients = TickClients(f"ws://{nginx[0]}:{nginx[1]}/ws", token=token, symbols=symbols)
    await clients.connect(WS_CLIENTS)
    try:
        results.add(await both_servers_check(clients, servers=servers))
        for post in _form_posts(topology, nginx):
            results.add(await stall_check(clients, post))
        results.add(await slowloris_check(nginx, token=token, clients=clients))
        results.add(await per_ip_limit_check(nginx, limit=topology.per_ip_connections))
    finally:
        await clients.close()


def _stopped_check(processes: ProcessSet, statuses: dict[str, int]) -> Outcome:
    left = [name for name, process in processes.running.items() if process.poll() is None]
    listening = [
        port
        for port in (processes.topology.port, *processes.topology.server_ports)
        if _listening(port)
    ]
    ok = not left and not listening
    detail = ", ".join(f"{name} {status}" for name, status in statuses.items())
    if left or listening:
        detail += f"; still running: {left}, ports still open: {listening}"
    return Outcome("everything stopped", ok, f"exit statuses: {detail}")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _topology(run_dir: Path) -> Topology:
    """Free ports; a run directory emptied of any earlier run."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    port, *server_ports = _free_ports(3)
    return Topology(
        run_dir=run_dir,
        port=port,
        server_ports=server_ports,
        feed_options=["--source=simulated", "--ignore-market-hours", f"--interval={TICK_INTERVAL}"],
        name_upstream=True,
    )


def _run(
    topology: Topology, env: dict[str, str], *, admin_email: str, symbols: list[str]
) -> Results:
    """Start the set, check it, stop it."""
    processes = ProcessSet(topology, set_environment(topology, {**os.environ, **env}))
    nginx = ("127.0.0.1", topology.port)
    results = Results()
    processes.start()
    try:
        processes.wait_until_serving()
        if _feed_running(nginx):
            asyncio.run(_checks(topology, nginx, results, admin_email=admin_email, symbols=symbols))
        else:
            results.add(Outcome("feed", False, "/health never showed the feed running"))
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is a failed check, reported
        results.add(Outcome("the checks ran", False, f"{type(exc).__name__}: {exc}"))
    finally:
        statuses = processes.stop()
    results.add(_stopped_check(processes, statuses))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument(
        "--database-url", help="a database of its own (default: SQLite in the run directory)"
    )
    parser.add_argument("--run-dir", type=Path, default=BASE_DIR / ".run" / "prod-check")
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        print(
            "REDIS_URL is required: a Redis database of the check's own (make prod-check sets one)."
        )
        return 2
    started = time.monotonic()
    topology = _topology(args.run_dir.resolve())
    database_url = args.database_url or f"sqlite:///{topology.run_dir / 'db.sqlite3'}"
    env = _environment(topology, database_url=database_url, redis_url=redis_url)
    admin_email = f"admin-{secrets.token_hex(4)}@example.com"
    symbols = _prepare(env, admin_email=admin_email)
    servers = ", ".join(f"127.0.0.1:{port}" for port in topology.server_ports)
    print(
        f"prod-check: nginx on {topology.url} -> {servers}; database: "
        f"{database_url.split('://')[0]}; logs in {topology.log_dir}",
        flush=True,
    )
    results = _run(topology, env, admin_email=admin_email, symbols=symbols)
    failed, total = results.failed(), len(results.outcomes)
    elapsed = time.monotonic() - started
    if failed:
        print(f"prod-check FAILED: {len(failed)} of {total} ({', '.join(failed)}), {elapsed:.0f} s")
        return 1
    print(f"prod-check passed: all {total} checks hold, in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
