"""Live push fan-out: the candidate servers and channel layers against a bare broadcast server.

Variants, each a server (n: two processes) measured in turn with the same publisher and load
generator:

  a  ours: FanoutChannelLayer, LiveConsumer and its daphne fast paths, on daphne
  b  channels-redis' RedisPubSubChannelLayer and a plain AsyncJsonWebsocketConsumer, on daphne
  c  the same as b on uvicorn (uvloop, httptools, websockets' sans-I/O protocol)
  d  a bare asyncio `websockets` server relaying the same Redis channels (the reference)
  n  a's server, two processes behind nginx (the production site, bench/ws/behind_nginx.py):
     the clients connect to nginx, which spreads them over both

N clients, each subscribed to the six indices; a publisher process sends one tick per index
every 1/RATE s for SECONDS. The clients run in LOAD_PROCESSES processes of their own (not in
this one), read every message as it arrives, and count each tick they get: every client must
get every tick (6 x RATE x SECONDS). Printed per run, client count and variant:
publish-to-receive latency p50/p99/max, ticks missing (lost or conflated: the clients that
missed any, and the most one client missed), and each variant's p99 over the bare server's;
for n, the clients each server process got (nginx's access log).

Targets (issue 12), for each run: at most 500 clients, p99 <= 1.5x bare's; above, p99 <= 2x
bare's; and no tick missing for any client (n: the same, and both processes get clients).
`--runs 3` measures three runs in a row and reports each and the worst. Exits non-zero when
the product's variant (a, one process) misses a target; the others' verdicts are reported.

    REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python bench/ws/run.py \
        [--clients 500 1000] [--runs 3] [--variants a b c d n] [--seconds 10]

Needs REDIS_URL. Uses a throwaway SQLite database in a temporary directory.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from bench.common import index_tokens, machine_note, setup_django  # noqa: E402 - path above
from bench.ws.behind_nginx import SERVER_PROCESSES, serving_behind_nginx  # noqa: E402
from deploy.nginx_config import NGINX  # noqa: E402
from testing.server import DAPHNE, serving  # noqa: E402

HERE = Path(__file__).resolve().parent
PRODUCT_SETTINGS = "trading_signals.settings"
PUBSUB_SETTINGS = "bench.ws.pubsub_settings"
PUBSUB_APP = "bench.ws.pubsub_app:application"
UVICORN = [
    *[sys.executable, "-m", "uvicorn", "--fd", "{fd}", "--loop", "uvloop", "--http", "httptools"],
    *["--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning"],
    *["--no-access-log", PUBSUB_APP],
]
BARE = [sys.executable, str(HERE / "servers.py"), "bare", "{fd}"]
REFERENCE = "d"
PRODUCT = "a"  # the variant the product ships: its misses make the exit status non-zero


@dataclass(frozen=True)
class Variant:
    label: str
    command: list[str]
    settings: str
    publisher: str  # servers.py's publisher kind
    behind_nginx: bool = False  # SERVER_PROCESSES of `command` behind nginx, else one process


VARIANTS = {
    "a": Variant("ours (Fanout, daphne)", DAPHNE, PRODUCT_SETTINGS, "fanout"),
    "b": Variant("pubsub, daphne", [*DAPHNE[:-1], PUBSUB_APP], PUBSUB_SETTINGS, "pubsub"),
    "c": Variant("pubsub, uvicorn", UVICORN, PUBSUB_SETTINGS, "pubsub"),
    "d": Variant("bare websockets", BARE, PRODUCT_SETTINGS, "fanout"),
    "n": Variant(
        f"ours x{SERVER_PROCESSES} behind nginx", DAPHNE, PRODUCT_SETTINGS, "fanout", True
    ),
}
DEFAULT_VARIANTS = list("abcdn")


@dataclass(frozen=True)
class Figures:
    p50: float
    p99: float
    max: float
    missing: int  # ticks the clients did not get, all clients together
    missing_clients: int  # clients that missed at least one tick
    worst_client_missing: int
    expected: int  # ticks all clients together should have got
    load_busy: float  # the busiest load generator's CPU seconds per second while measuring
    spread: tuple[int, ...] = ()  # behind nginx: the clients each server process got


def p99_limit(clients: int) -> float:
    """The most a variant's p99 may be, as a multiple of the bare server's (issue 12)."""
    return 1.5 if clients <= 500 else 2.0


def _load_processes(url: str, clients: int, processes: int) -> list[subprocess.Popen[str]]:
    symbols = ",".join(index_tokens())
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    started = [
        subprocess.Popen(
            [sys.executable, str(HERE / "load.py"), url, str(share), symbols],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
        if share
    ]
    for process in started:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("A load generator failed to connect its clients (see above).")
    return started


def _publish(variant: Variant, env: dict[str, str], rate: float, seconds: float) -> int:
    """Runs the publisher to its end; the number of ticks each client should get."""
    command = [sys.executable, str(HERE / "servers.py"), "publish", variant.publisher]
    out = subprocess.run(
        [*command, str(rate), str(seconds)],
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": variant.settings},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out) * len(index_tokens())


def measure(
    variant: Variant, clients: int, args: argparse.Namespace, env: dict[str, str], token: str
) -> Figures:
    server_env = {**env, "DJANGO_SETTINGS_MODULE": variant.settings}
    if not variant.behind_nginx:
        log = Path(env["LOG_DIR"]) / "server.log"
        with serving(env=server_env, log=log, command=variant.command) as port:
            return _clients_run(variant, port, clients, args, env, token)
    with serving_behind_nginx(
        command=variant.command, env=server_env, workdir=Path(env["LOG_DIR"]), clients=clients
    ) as proxied:
        figures = _clients_run(variant, proxied.port, clients, args, env, token)
        return replace(figures, spread=proxied.clients_per_server(clients=clients))


def _clients_run(
    variant: Variant,
    port: int,
    clients: int,
    args: argparse.Namespace,
    env: dict[str, str],
    token: str,
) -> Figures:
    """The clients connected to `port` while the publisher runs; their figures."""
    loads = _load_processes(f"ws://127.0.0.1:{port}/ws?token={token}", clients, args.load)
    try:
        time.sleep(0.5)  # let the last subscriptions land
        per_client = _publish(variant, env, args.rate, args.seconds)
        results = []
        for process in loads:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f"{per_client}\n")
            process.stdin.flush()
        for process in loads:
            results.append(json.loads(process.stdout.readline()))  # type: ignore[union-attr]
    finally:
        for process in loads:
            process.kill()
            process.wait()
    return _figures(results, per_client)


def _figures(results: list[dict], per_client: int) -> Figures:
    received = [count for result in results for count in result["received"]]
    latencies = sorted(value / 1000 for result in results for value in result["latencies_us"])
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    missing = [max(per_client - count, 0) for count in received]
    return Figures(
        p50=q[49],
        p99=q[98],
        max=latencies[-1] if latencies else 0.0,
        missing=sum(missing),
        missing_clients=sum(1 for m in missing if m),
        worst_client_missing=max(missing, default=0),
        expected=per_client * len(received),
        load_busy=max(result["busy"] for result in results),
    )


def misses(figures: Figures, bare: Figures | None, clients: int) -> list[str]:
    """The targets these figures miss (none for the reference itself)."""
    found = []
    if figures.missing:
        found.append(f"{figures.missing} ticks missing")
    if bare is not None and figures.p99 > p99_limit(clients) * bare.p99:
        found.append(f"p99 {figures.p99 / bare.p99:.2f}x bare's (limit {p99_limit(clients)}x)")
    if 0 in figures.spread:
        found.append("a server process got no client")
    return found


def line(key: str, figures: Figures, bare: Figures | None, clients: int) -> str:
    ratio = f"{figures.p99 / bare.p99:5.2f}x" if bare else "  ref "
    verdict = "; ".join(misses(figures, bare, clients)) or "ok"
    if key == REFERENCE:
        verdict = "reference" if not figures.missing else f"{figures.missing} ticks missing"
    text = (
        f"  {key} {VARIANTS[key].label:<22} p50 {figures.p50:7.1f}  p99 {figures.p99:7.1f}  "
        f"max {figures.max:7.1f} ms  p99/bare {ratio}  missing {figures.missing} of "
        f"{figures.expected} ({figures.missing_clients} clients, worst "
        f"{figures.worst_client_missing}), load gen {figures.load_busy:.0%} busy  {verdict}"
    )
    if figures.spread:
        spread = " + ".join(map(str, figures.spread))
        text += f"\n    clients per server process (nginx's access log): {spread}"
    return text


def prepare_database(workdir: Path) -> tuple[dict[str, str], str]:
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "LOG_DIR": str(workdir),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    setup_django()
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench@example.com", "Bench-Password-1", name="Bench")
    return env, str(AccessToken.for_user(user))


def summary(table: dict, args: argparse.Namespace) -> bool:
    """Prints the worst of the runs per client count and variant; True if the product held."""
    print(f"\nWorst of {args.runs} run(s); targets: no tick missing, p99 <= 1.5x bare's up to")
    print("500 clients, <= 2x above, in every run (n too: the same as one process, and both")
    print(f"processes get clients). Only {PRODUCT}'s misses set the exit status.")
    held = True
    for clients in args.clients:
        print(f"{clients} clients")
        for key in args.variants:
            runs = [table[run][clients] for run in range(args.runs)]
            ratios = [r[key].p99 / r[REFERENCE].p99 for r in runs if REFERENCE in r]
            failed = [
                i + 1 for i, r in enumerate(runs) if misses(r[key], r.get(REFERENCE), clients)
            ]
            worst = max((r[key] for r in runs), key=lambda f: f.p99)
            text = f"worst p99/bare {max(ratios):.2f}x, " if ratios and key != REFERENCE else ""
            verdict = f"missed in run(s) {failed}" if failed else "held in every run"
            if key == REFERENCE:
                verdict = "reference"
            print(
                f"  {key} {VARIANTS[key].label:<22} worst p99 {worst.p99:7.1f} ms, {text}"
                f"most missing {max(r[key].missing for r in runs)}: {verdict}"
            )
            if key == PRODUCT and failed:
                held = False
    return held


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=DEFAULT_VARIANTS)
    parser.add_argument("--runs", type=int, default=3, help="runs in a row, each reported")
    parser.add_argument("--rate", type=float, default=5.0, help="ticks per second per index")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--load", type=int, default=2, help="load generator processes")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/ws needs REDIS_URL (a Redis server): the publishers talk to it.")
    if any(VARIANTS[key].behind_nginx for key in args.variants) and not NGINX.exists():
        sys.exit(f"{NGINX} is missing: run scripts/install_nginx.sh, or leave n out (--variants).")

    table: dict[int, dict[int, dict[str, Figures]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env, token = prepare_database(Path(tmp))
        for run in range(args.runs):
            table[run] = {}
            for clients in args.clients:
                print(
                    f"Run {run + 1}: {clients} clients x {len(index_tokens())} symbols x "
                    f"{args.rate:g} ticks/s, {args.seconds:g} s; {machine_note()}",
                    flush=True,
                )
                results = table[run][clients] = {}
                for key in args.variants:
                    results[key] = measure(VARIANTS[key], clients, args, env, token)
                for key in args.variants:
                    print(line(key, results[key], results.get(REFERENCE), clients), flush=True)
    held = summary(table, args)
    print(f"\n{machine_note().replace('at the start', 'at the end')}")
    if PRODUCT in args.variants and not held:
        sys.exit(f"The product's variant ({PRODUCT}) missed a target.")


if __name__ == "__main__":
    main()
