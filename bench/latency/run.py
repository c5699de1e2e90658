"""Live latency, end to end: a frame sent by Angel One to the tick received by a `/ws` client.

    make bench-latency
    REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python bench/latency/run.py [--runs 3]

The whole live path, each part a real process as in production:

    local Angel One peer (this process: REST login + the WebSocket stream, SmartAPI frames)
      -> manage.py run_feed --source angelone (ANGEL_ONE_API_URL / _WS_URL at the peer)
      -> Redis (REDIS_URL) -> daphne serving /ws (as testing/server.py runs it)
      -> a `websockets` client process subscribed over /ws with a JWT

Latency is frame sent to tick received: the peer notes `time.time_ns()` as it writes each
frame, keyed by (token, exchange time in ms), which is unique per token; the client notes the
time each tick message arrives and reads `tick.token` and `tick.received_at` (the exchange
time), so each tick is matched to its own frame exactly. The peer paces its frames evenly
over each interval (a real feed's steady flow) with exchange times at the wall clock, and
the day is a `MarketSession` special session (NSE and BSE, whole day), since the Angel One
source always enforces market hours. The first second after the client subscribed is a
warm-up and not counted (the feed's first reads of instruments, sessions and previous ticks).

Scenarios (QUOTE mode, the feed's default settings):
  (a) the six indices x 10 ticks/s, SQLite (a throwaway file);
  (b) 3,000 tokens x 1 tick/s (the six plus 2,994 NFO options, all `subscribed`: the feed
      spreads them over 3 connections), SQLite; the client subscribes a sample (--sample);
  (c) as (a) on PostgreSQL (a throwaway `test_` database next to BENCH_POSTGRES_URL) reached
      through a TCP proxy that this bench cuts for --outage seconds in the middle of the
      window, for the feed and the server alike: the live push must go on, and afterwards
      every frame sent must be stored (rows counted against frames).
And the floor, in the same run: the bare relay (a `websockets` client reading the peer's
frames, a `websockets` server forwarding each as a JSON tick message of our shape to the same
client), at (a) and (b). It has one process hop fewer (no Redis, no second process).

Targets: (a) p99 <= 10 ms and <= 5x the bare relay's p99; (b) p99 <= 50 ms; (c) as (a)
with every tick stored. With --runs N everything runs N times and the worst run of each
figure is reported. Needs Redis (REDIS_URL) and PostgreSQL (BENCH_POSTGRES_URL). Each
scenario also prints the CPU its processes used; --logs DIR keeps every process's log and
each tick's latency, --profile PY_SPY samples run_feed with py-spy during each window.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402 - needs BASE_DIR on the path
    bench_database,
    child_run,
    machine_note,
    postgres_url,
    setup_django,
    stop_on_sigterm,
)
from bench.latency.database import (  # noqa: E402
    database_prepare,
    options_create,
    outage,
    sample,
    stored_count,
    streamed,
)
from bench.latency.endpoints import Client, client_run, relay_run  # noqa: E402
from bench.latency.processes import (  # noqa: E402
    START_TIMEOUT,
    CpuMeter,
    Processes,
    Profiler,
    child_pid,
)
from bench.latency.report import SendLog, figures, show, summary  # noqa: E402
from testing.server import DAPHNE  # noqa: E402
from testing.waiting import wait_until  # noqa: E402

SERVER_MODULE = DAPHNE[DAPHNE.index("-m") + 1]  # the server process, found among the children

MANAGE = str(BASE_DIR / "manage.py")
WARMUP_SECONDS = 1.0
GRACE_SECONDS = 1.0  # the client keeps reading this long after the window, for ticks in flight


# --- One backend's scenarios (a child process per backend) ---------------------------------


class Bench:
    """The peer (in this process), the processes around it, and how each scenario runs."""

    def __init__(self, args: argparse.Namespace, workdir: Path, database_url: str) -> None:
        from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer

        self.args = args
        self.workdir = workdir
        self.sends = SendLog()
        self.peer = AngelOnePeer(paced=True, tick_interval=0.1, on_send=self.sends.record)
        self.peer.start()
        self.processes = Processes(workdir)
        self.samples = 0
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_DIR": str(workdir),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "trading_signals.settings",
            "WS_MAX_SYMBOLS": str(max(50, args.sample)),
            "FEED_HEARTBEAT_SECONDS": "1",
            "ANGEL_ONE_API_URL": self.peer.api_url,
            "ANGEL_ONE_WS_URL": self.peer.ws_url,
            **self.peer.credentials.as_settings(),
        }

    def close(self) -> None:
        self.processes.stop_all()
        self.peer.stop()

    # --- the feed ----------------------------------------------------------------------------
    def feed_start(self, tokens: set[str]) -> subprocess.Popen[bytes]:
        """run_feed against the peer, once the peer has every token subscribed."""
        self.sends.clear()
        command = [sys.executable, MANAGE, "run_feed", "--source", "angelone"]
        feed = self.processes.start("run_feed", command, self.env)

        def subscribed() -> bool:
            if feed.poll() is not None:
                raise RuntimeError(f"run_feed exited:\n{self.processes.log_of(feed)}")
            return self.peer.subscribed_tokens() >= tokens

        wait_until(
            subscribed, what="run_feed to subscribe every token at the peer", timeout=START_TIMEOUT
        )
        return feed

    def feed_stop(self, feed: subprocess.Popen[bytes]) -> dict[str, Any]:
        """Mute the peer, let the last ticks land, stop the feed (it stores what it holds)."""
        from marketdata.feed.heartbeat import heartbeat_read

        self.peer.mute()
        time.sleep(0.5)
        log = self.processes.log_of(feed)
        status = self.processes.stop(feed)
        wait_until(
            lambda: self.peer.connections == 0, what="the feed's streams to close", timeout=10
        )
        self.peer.mute(False)
        if status != 0:
            raise RuntimeError(f"run_feed exited with status {status}:\n{log}")
        return heartbeat_read() or {}

    # --- measuring -----------------------------------------------------------------------------
    def measure(
        self,
        url: str,
        symbols: list[str],
        tokens: set[str],
        pids: dict[str, int],
        during: Callable[[int, int], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        seconds = self.args.seconds
        client = Client(self.processes, url, symbols, WARMUP_SECONDS + seconds + GRACE_SECONDS)
        start_ns = client.ready_ns + int(WARMUP_SECONDS * 1e9)
        end_ns = start_ns + int(seconds * 1e9)
        cpu = CpuMeter({**pids, "bench (peer)": os.getpid()}, start_ns, end_ns)
        profiler = None
        if self.args.profile and "run_feed" in pids:
            out = self.workdir / f"profile-{self.samples + 1}.txt"
            profiler = Profiler(self.args.profile, pids["run_feed"], start_ns, end_ns, out)
        extra = during(start_ns, end_ns) if during else {}
        ticks = client.ticks()
        cpu.join()
        if profiler is not None:
            profiler.join()
            kept = f" ({profiler.out})" if self.args.logs else ""
            print(f"  run_feed under py-spy{kept}:\n{profiler.summary()}")
        result = figures(self.sends, ticks, tokens, start_ns, end_ns)
        result["cpu"] = cpu.percent
        self.samples += 1
        series = result.pop("series")
        if self.args.logs:  # each tick's (ms after the window opened, latency ms)
            (self.workdir / f"latencies-{self.samples}.json").write_text(json.dumps(series))
        if "cut_ns" in extra:
            result["outage"] = figures(self.sends, ticks, tokens, extra["cut_ns"], extra["back_ns"])
            result["outage"].pop("series")
        return {**result, **{k: v for k, v in extra.items() if not k.endswith("_ns")}}

    def ours(
        self,
        server_port: int,
        access: str,
        symbols: list[str],
        during: Callable[[int, int], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """peer -> run_feed -> Redis -> daphne -> client; then the rows stored against frames."""
        instruments = streamed()
        tokens = {t for t, (symbol, _, _) in instruments.items() if symbol in set(symbols)}
        before = stored_count()
        feed = self.feed_start(set(instruments))
        try:
            url = f"ws://127.0.0.1:{server_port}/ws?token={access}"
            pids = {"run_feed": feed.pid, "daphne": child_pid(SERVER_MODULE)}
            result = self.measure(url, symbols, tokens, pids, during)
            if during is not None:  # the outage: the backlog must be stored while streaming
                self.peer.mute()
                sent = len(self.sends.sent)
                wait_until(
                    lambda: stored_count() - before >= sent, what="every tick stored", timeout=30
                )
        finally:
            beat = self.feed_stop(feed)
        result["frames_sent"] = len(self.sends.sent)
        result["stored"] = stored_count() - before
        result["feed"] = {
            key: beat.get(key)
            for key in ("received", "stored", "duplicates", "rejected_total", "dropped", "failed")
        }
        return result

    def bare(self, symbols: list[str]) -> dict[str, Any]:
        """peer -> the bare relay -> client."""
        from testing.server import serving

        instruments = streamed()
        tokens = {t for t, (symbol, _, _) in instruments.items() if symbol in set(symbols)}
        session = self.peer.issue_session()
        credentials = self.peer.credentials
        config = {
            "ws_url": self.peer.ws_url,
            "headers": {
                "Authorization": f"Bearer {session.jwt}",
                "x-api-key": credentials.api_key,
                "x-client-code": credentials.client_id,
                "x-feed-token": session.feed_token,
            },
            "instruments": instruments,
        }
        config_file = self.workdir / "relay.json"
        config_file.write_text(json.dumps(config))
        command = [sys.executable, __file__, "--relay", str(config_file), "{fd}"]
        self.sends.clear()
        with serving(env=self.env, log=self.workdir / "relay.log", command=command) as port:
            wait_until(
                lambda: self.peer.subscribed_tokens() >= set(instruments),
                what="the relay to subscribe every token at the peer",
                timeout=START_TIMEOUT,
            )
            pids = {"relay": child_pid("--relay")}
            result = self.measure(f"ws://127.0.0.1:{port}/ws", symbols, tokens, pids)
        wait_until(
            lambda: self.peer.connections == 0, what="the relay's streams to close", timeout=10
        )
        return result


def measure_backend(backend: str, args: argparse.Namespace) -> None:
    stop_on_sigterm()
    setup_django()
    from django.db import connection

    from marketdata.market_calendar import INDICES
    from testing.server import serving

    indices = [symbol for _token, symbol, *_ in INDICES]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, bench_database(backend):
        workdir = Path(args.logs or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        access = database_prepare()
        config = connection.settings_dict
        proxy = None
        if backend == "sqlite":
            database_url = f"sqlite:///{config['NAME']}"
        else:
            from marketdata.tests.feed.feedprocess import TcpProxy

            proxy = TcpProxy(target_port=int(config["PORT"] or 5432))
            password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
            host = config["HOST"] or "127.0.0.1"
            database_url = f"postgres://{config['USER']}{password}@{host}:{proxy.port}/{config['NAME']}"  # fmt: skip
        bench = Bench(args, workdir, database_url)
        try:
            with serving(env=bench.env, log=workdir / "server.log") as port:
                if backend == "sqlite":
                    results["a"] = bench.ours(port, access, indices)
                    show("(a) 6 tokens x 10/s: ours", results["a"])
                    results["a_bare"] = bench.bare(indices)
                    show("(a) 6 tokens x 10/s: bare relay", results["a_bare"])
                    options_create(3000 - len(indices))
                    bench.peer.tick_interval = 1.0
                    picked = sample(sorted(v[0] for v in streamed().values()), args.sample)
                    results["b"] = bench.ours(port, access, picked)
                    show(f"(b) 3,000 tokens x 1/s: ours ({len(picked)} watched)", results["b"])
                    results["b_bare"] = bench.bare(picked)
                    show("(b) 3,000 tokens x 1/s: bare relay", results["b_bare"])
                else:
                    assert proxy is not None
                    during = outage(proxy, args.outage, bench.sends)
                    results["c"] = bench.ours(port, access, indices, during)
                    show(f"(c) as (a), {args.outage:g} s database outage", results["c"])
        except Exception:
            for log in sorted(workdir.glob("*.log")):
                print(f"--- {log.name} (last lines) ---\n{log.read_text(errors='replace')[-2500:]}")
            raise
        finally:
            bench.close()
            if proxy is not None:
                proxy.close()
            connection.close()
            if backend == "postgresql":
                _others_disconnect()
    Path(args.results).write_text(json.dumps(results))


def _others_disconnect() -> None:
    """Connections the stopped processes left half-open would keep the database from being
    dropped: end them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=1, help="run everything N times (worst of N)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per scenario")
    parser.add_argument("--sample", type=int, default=200, help="(b): symbols the client watches")
    parser.add_argument("--outage", type=float, default=5.0, help="(c): seconds without database")
    parser.add_argument("--logs", help="keep the processes' logs (and profiles) in this folder")
    parser.add_argument(
        "--profile",
        metavar="PY_SPY",
        help="profile run_feed in each scenario with this py-spy executable (the figures of a "
        "profiled run are not comparable: py-spy pauses the process for each sample)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["sqlite", "postgresql"],
        help="sqlite: (a) and (b); postgresql: (c)",
    )
    args = parser.parse_args()
    if "postgresql" in args.backends and args.outage >= args.seconds:
        # The outage sits in the middle of the window: one as long leaves no time to store.
        parser.error(
            f"--outage ({args.outage:g} s) must be shorter than --seconds ({args.seconds:g} s)"
        )
    if args.backend:
        measure_backend(args.backend, args)
        return
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/latency needs REDIS_URL (a Redis server): the live push goes through it.")
    stop_on_sigterm()
    print(
        f"Frame sent by the Angel One peer -> tick received by a /ws client; {args.seconds:g} s "
        f"measured per scenario after {WARMUP_SECONDS:g} s of warm-up. {machine_note()}."
    )
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            if args.runs > 1:
                print(f"Run {run + 1} of {args.runs}")
            results: dict[str, Any] = {}
            for backend, url in (
                ("sqlite", f"sqlite:///{Path(tmp) / 'latency.sqlite3'}"),
                ("postgresql", postgres_url()),
            ):
                if backend not in args.backends:
                    continue
                out = Path(tmp) / f"{backend}.json"
                options = ["--seconds", str(args.seconds), "--sample", str(args.sample)]
                options += ["--outage", str(args.outage), "--results", str(out)]
                if args.logs:
                    options += ["--logs", str(Path(args.logs) / f"run{run + 1}-{backend}")]
                if args.profile:
                    options += ["--profile", args.profile]
                child_env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
                child_run([sys.executable, __file__, "--backend", backend, *options], child_env)
                results.update(json.loads(out.read_text()))
            runs.append(results)
    summary(runs)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        asyncio.run(client_run(sys.argv[2], sys.argv[3].split(","), float(sys.argv[4])))
    elif sys.argv[1:2] == ["--relay"]:
        asyncio.run(relay_run(sys.argv[2], int(sys.argv[3])))
    else:
        main()
