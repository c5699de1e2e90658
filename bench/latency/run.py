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
import contextlib
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
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

MANAGE = str(BASE_DIR / "manage.py")
WARMUP_SECONDS = 1.0
GRACE_SECONDS = 1.0  # the client keeps reading this long after the window, for ticks in flight
START_TIMEOUT = 60.0
SUBSCRIBE_CHUNK = 50  # symbols per subscribe message (the server's WS_MAX_MESSAGE_BYTES)
TARGET_A_P99_MS = 10.0
TARGET_A_RATIO = 5.0
TARGET_B_P99_MS = 50.0


# --- Figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


class SendLog:
    """When the peer wrote each frame: (token, exchange ms) -> time.time_ns(). The peer's
    thread writes it; the bench reads it once the client is done."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, int], int] = {}

    def record(self, token: str, exchange_ms: int, ns: int) -> None:
        self.sent[(token, exchange_ms)] = ns

    def clear(self) -> None:
        self.sent = {}


def figures(
    log: SendLog, received: list[list[Any]], tokens: set[str], start_ns: int, end_ns: int
) -> dict[str, Any]:
    """Latencies of the ticks whose frames were sent in [start_ns, end_ns), and what is missing.

    `received` holds the client's [token, exchange ms, arrival ns, seq, symbol, message
    length] in arrival order.
    """
    sent = dict(log.sent)
    expected = {key for key, ns in sent.items() if key[0] in tokens and start_ns <= ns < end_ns}
    latencies: list[float] = []
    series: list[tuple[int, float]] = []  # (sent ns, latency ms)
    unmatched, seen = 0, set()
    order_errors = seq_gaps = 0
    last: dict[str, tuple[int, int]] = {}  # symbol -> (exchange ms, seq)
    sizes = 0
    for token, exchange_ms, arrived_ns, seq, symbol, size in received:
        sizes += size
        before = last.get(symbol)
        if before is not None:
            order_errors += exchange_ms <= before[0]
            seq_gaps += seq != before[1] + 1
        last[symbol] = (exchange_ms, seq)
        key = (token, exchange_ms)
        if key not in sent:
            unmatched += 1
        elif key in expected:
            latencies.append((arrived_ns - sent[key]) / 1e6)
            series.append((sent[key], latencies[-1]))
            seen.add(key)
    series.sort()
    tenth = max(1, len(series) // 10)
    first, last = [ms for _, ms in series[:tenth]], [ms for _, ms in series[-tenth:]]
    return {
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=math.nan),
        "count": len(latencies),
        "expected": len(expected),
        "lost": len(expected - seen),
        "unmatched": unmatched,
        "order_errors": order_errors,
        "seq_gaps": seq_gaps,
        "message_bytes": sizes / len(received) if received else 0,
        # A backlog shows as latency growing over the window.
        "p50_first_tenth": percentile(first, 0.5),
        "p50_last_tenth": percentile(last, 0.5),
        "series": [(round((ns - start_ns) / 1e6, 3), round(ms, 3)) for ns, ms in series],
    }


def figures_line(name: str, f: dict[str, Any]) -> str:
    line = (
        f"  {name:<34} p50 {f['p50']:6.2f} ms  p99 {f['p99']:6.2f} ms  max {f['max']:7.2f} ms  "
        f"({f['count']:,} ticks of ~{f['message_bytes']:.0f} B, lost {f['lost']})"
    )
    problems = [
        f"{f[key]} {label}"
        for key, label in (
            ("unmatched", "unmatched"),
            ("order_errors", "out of order"),
            ("seq_gaps", "seq gaps"),
        )
        if f.get(key)
    ]
    return line + (f"  [{', '.join(problems)}]" if problems else "")


# --- Processes -------------------------------------------------------------------------------


class Processes:
    """Every process this bench starts, each stopped by its own pid when done or on failure."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str], env: dict[str, str], **kwargs: Any):
        log = self.logs / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=BASE_DIR,
                stderr=output,
                stdout=kwargs.pop("stdout", output),
                **kwargs,
            )
        self.running.append((process, log))
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30) -> int:
        """SIGTERM (the feed stores what it holds), then SIGKILL if it does not exit in time."""
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        self.running = [(p, log) for p, log in self.running if p is not process]
        return process.returncode

    def stop_all(self) -> None:
        for process, _ in list(self.running):
            self.stop(process, timeout=10)

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        for candidate, log in self.running:
            if candidate is process:
                return log.read_text(errors="replace")[-3000:]
        return ""


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pid(marker: str) -> int:
    """The pid of this process's child whose command line holds `marker`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and marker in (stat.parent / "cmdline").read_text():
                return int(stat.parent.name)
    raise RuntimeError(f"no child process runs {marker}")


class CpuMeter(threading.Thread):
    """The CPU each process used over [start_ns, end_ns), as a percentage of one core."""

    def __init__(self, pids: dict[str, int], start_ns: int, end_ns: int) -> None:
        super().__init__(daemon=True)
        self.pids, self.start_ns, self.end_ns = pids, start_ns, end_ns
        self.percent: dict[str, float] = {}
        self.start()

    def run(self) -> None:
        time.sleep(max(0.0, (self.start_ns - time.time_ns()) / 1e9))
        first = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        time.sleep(max(0.0, (self.end_ns - time.time_ns()) / 1e9))
        seconds = (self.end_ns - self.start_ns) / 1e9
        with contextlib.suppress(OSError):
            for name, pid in self.pids.items():
                self.percent[name] = (cpu_seconds(pid) - first[name]) / seconds * 100


PROJECT_PACKAGES = ("marketdata/", "trading_signals/", "signals/", "accounts/")
IDLE_LEAVES = (
    "_worker (concurrent/futures/thread.py",
    "select (selectors.py",
    "wait (threading.py",
)


class Profiler(threading.Thread):
    """py-spy (--profile) on a process over [start_ns, end_ns): collapsed stacks per thread."""

    def __init__(self, py_spy: str, pid: int, start_ns: int, end_ns: int, out: Path) -> None:
        super().__init__(daemon=True)
        self.command = [py_spy, "record", "-p", str(pid), "-r", "100", "-f", "raw", "--threads"]
        self.command += ["-d", str(max(1, round((end_ns - start_ns) / 1e9))), "-o", str(out)]
        self.start_ns, self.out = start_ns, out
        self.start()

    def run(self) -> None:
        time.sleep(max(0.0, (self.start_ns - time.time_ns()) / 1e9))
        subprocess.run(self.command, capture_output=True, check=False)

    def summary(self, top: int = 6) -> str:
        """Per thread: samples busy (not waiting for work), and where they went, each sample
        given to the innermost function of our own code on its stack."""
        busy: dict[str, int] = defaultdict(int)
        ours: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if not self.out.exists():
            return "    (py-spy wrote no profile)"
        for line in self.out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            thread, *frames = stack.split(";")
            if not frames or frames[-1].startswith(IDLE_LEAVES):
                continue
            name = thread.split(": ")[-1].rstrip(")").split("_0")[0] if ": " in thread else thread
            busy[name] += int(count)
            mine = [f for f in frames if f.split("(", 1)[-1].startswith(PROJECT_PACKAGES)]
            where = mine[-1].split(":")[0] + ")" if mine else "(libraries only)"
            ours[name][where] += int(count)
        lines = []
        for name, samples in sorted(busy.items(), key=lambda item: -item[1]):
            lines.append(f"    thread {name}: {samples} busy samples (100 a second)")
            for where, n in sorted(ours[name].items(), key=lambda item: -item[1])[:top]:
                lines.append(f"      {n:6d}  {where}")
        return "\n".join(lines)


def poll(check: Callable[[], Any], *, what: str, timeout: float = START_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"Timed out waiting for {what}")


# --- The client (a separate process) -------------------------------------------------------


def _exchange_ms(iso: str) -> int:
    moment = datetime.fromisoformat(iso)
    return round(moment.timestamp() * 1000)


async def client_run(url: str, symbols: list[str], seconds: float) -> None:
    """Subscribe, say "ready <ns>", record every message for `seconds`, then print the ticks
    as JSON [token, exchange ms, arrival ns, seq, symbol, length]. Decoding waits until the
    end, so the receive loop does nothing but note the time."""
    import websockets

    async with websockets.connect(url, compression=None, max_queue=None, max_size=None) as ws:
        for start in range(0, len(symbols), SUBSCRIBE_CHUNK):
            chunk = symbols[start : start + SUBSCRIBE_CHUNK]
            await ws.send(json.dumps({"action": "subscribe", "symbols": chunk}))
        pending = math.ceil(len(symbols) / SUBSCRIBE_CHUNK)
        arrivals: list[tuple[int, str]] = []
        while pending:
            text = await ws.recv()
            kind = json.loads(text).get("type")
            if kind == "error":
                sys.exit(f"the server refused the subscription: {text}")
            if kind == "snapshot":
                pending -= 1
            else:
                arrivals.append((time.time_ns(), text))
        print("ready", time.time_ns(), flush=True)

        async def read() -> None:
            async for message in ws:
                arrivals.append((time.time_ns(), message))  # type: ignore[arg-type]

        reader = asyncio.create_task(read())
        await asyncio.sleep(seconds)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    ticks = []
    for arrived, text in arrivals:
        message = json.loads(text)
        if message.get("type") == "tick":
            tick = message["tick"]
            ms = _exchange_ms(tick["received_at"])
            ticks.append([tick["token"], ms, arrived, message["seq"], tick["symbol"], len(text)])
    print(json.dumps(ticks), flush=True)


class Client:
    """The client process: started, ready, then its ticks."""

    def __init__(self, processes: Processes, url: str, symbols: list[str], seconds: float):
        self.processes = processes
        command = [sys.executable, __file__, "--client", url, ",".join(symbols), str(seconds)]
        self.process = processes.start(
            "client", command, env=dict(os.environ), stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("ready "):
            raise RuntimeError(f"The client did not start:\n{processes.log_of(self.process)}")
        self.ready_ns = int(line.split()[1])

    def ticks(self) -> list[list[Any]]:
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        status = self.process.wait(60)
        if status != 0:
            raise RuntimeError(f"The client failed:\n{self.processes.log_of(self.process)}")
        self.processes.stop(self.process)
        return json.loads(out)


# --- The bare relay (a separate process) -----------------------------------------------------

QUOTE_LAYOUT = "<BB25sqqqqqqddqqqq"  # SmartAPI's QUOTE frame (docs/angel-one.md)


async def relay_run(config_file: str, fd: int) -> None:
    """Subscribe the instruments at the peer (1,000 tokens per connection), and forward each
    frame of a token some client asked for as a JSON tick message of our shape."""
    import socket
    import struct
    from http import HTTPStatus

    import websockets
    from websockets.asyncio.client import connect

    config = json.loads(Path(config_file).read_text())
    instruments: dict[str, list[Any]] = config["instruments"]  # token -> [symbol, exch, type]
    token_of = {symbol: token for token, (symbol, _, _) in instruments.items()}
    listeners: dict[str, set[Any]] = defaultdict(set)
    seq: dict[str, int] = defaultdict(int)
    quote = struct.Struct(QUOTE_LAYOUT)

    async def serve_client(connection: Any) -> None:
        joined: list[str] = []
        try:
            async for text in connection:
                request = json.loads(text)
                symbols = [s for s in request.get("symbols", []) if s in token_of]
                for symbol in symbols:
                    listeners[token_of[symbol]].add(connection)
                    joined.append(token_of[symbol])
                await connection.send(
                    json.dumps({"type": "snapshot", "symbols": symbols, "ticks": []})
                )
        finally:
            for token in joined:
                listeners[token].discard(connection)

    def health(connection: Any, request: Any) -> Any:
        return connection.respond(HTTPStatus.OK, "ok\n") if request.path == "/health" else None

    def forward(frame: bytes) -> None:
        if len(frame) != quote.size:
            return
        (_, ex_type, raw, _, ms, ltp, _, _, volume, _, _, op, hi, lo, cl) = quote.unpack(frame)
        token = raw.split(b"\0", 1)[0].decode()
        clients = listeners.get(token)
        if not clients:
            return
        symbol, exchange, _ = instruments[token]
        seq[token] += 1
        at = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()[:-6] + "Z"
        ltpc, close = ltp / 100, cl / 100
        tick = {
            "symbol": symbol, "token": token, "exchange": exchange, "exchange_type": ex_type,
            "ltpc": ltpc, "ch": round(ltpc - close, 2),
            "chp": round((ltpc - close) / close * 100, 2) if close else None,
            "open": op / 100, "high": hi / 100, "low": lo / 100, "close": close,
            "volume": volume, "received_at": at, "source": "angelone", "data_quality": "GOOD",
            "is_realtime": True, "depth": None,
        }  # fmt: skip
        message = {"type": "tick", "seq": seq[token], "tick": tick}
        websockets.broadcast(clients, json.dumps(message, separators=(",", ":")))

    async def upstream(index: int, tokens: list[str]) -> None:
        async with connect(
            config["ws_url"],
            additional_headers=config["headers"],
            ping_interval=None,
            compression=None,  # as run_feed connects
        ) as ws:
            for start in range(0, len(tokens), 250):
                by_type: dict[int, list[str]] = defaultdict(list)
                for token in tokens[start : start + 250]:
                    by_type[instruments[token][2]].append(token)
                request = {
                    "correlationID": f"relay{index}",
                    "action": 1,
                    "params": {
                        "mode": 2,
                        "tokenList": [{"exchangeType": t, "tokens": v} for t, v in by_type.items()],
                    },
                }
                await ws.send(json.dumps(request))
            async for frame in ws:
                if isinstance(frame, bytes):
                    forward(frame)

    tokens = list(instruments)
    shares = [tokens[start : start + 1000] for start in range(0, len(tokens), 1000)]
    sock = socket.socket(fileno=fd)
    async with websockets.serve(serve_client, sock=sock, process_request=health, compression=None):
        await asyncio.gather(*(upstream(i, share) for i, share in enumerate(shares)))


# --- Set-up ----------------------------------------------------------------------------------


def database_prepare() -> str:
    """A user (its access token is returned) and a whole-day special session for NSE and BSE
    today and tomorrow (IST), so a run across midnight stays in session."""
    from datetime import time as clock
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from marketdata.market_calendar import ist_day
    from marketdata.models import MarketSession

    today = ist_day(datetime.now(tz=UTC))
    for day in (today, today + timedelta(days=1)):
        for exchange in ("NSE", "BSE"):
            MarketSession.objects.update_or_create(
                date=day,
                exchange=exchange,
                defaults={
                    "kind": MarketSession.Kind.SPECIAL,
                    "opens_at": clock(0, 0),
                    "closes_at": clock(23, 59, 59),
                    "note": "bench/latency: open all day",
                },
            )
    user = User.objects.create_user("bench@example.com", "Bench-Password-1", name="Bench")
    return str(AccessToken.for_user(user))


def options_create(count: int) -> None:
    """`count` NFO index options, subscribed: strikes either side of three underlyings."""
    from datetime import timedelta

    from marketdata.models import Instrument

    expiry = datetime.now(tz=UTC).date() + timedelta(days=7)
    stamp = expiry.strftime("%d%b%y").upper()
    underlyings = [("NIFTY", 50, 22_000, 75), ("BANKNIFTY", 100, 48_000, 30), ("FINNIFTY", 50, 23_000, 65)]  # fmt: skip
    rows = []
    for n in range(count):
        name, step, middle, lot = underlyings[n % 3]
        strike = middle + (n // 6 - count // 12) * step
        kind = "CE" if n // 3 % 2 == 0 else "PE"
        rows.append(
            Instrument(
                token=str(40_000 + n),
                symbol=f"{name}{stamp}{strike}{kind}",
                name=name,
                exchange="NFO",
                exchange_type=2,
                instrument_type="OPTIDX",
                expiry=expiry,
                strike=float(strike),
                lot_size=lot,
                subscribed=True,
            )
        )
    Instrument.objects.bulk_create(rows)


def streamed() -> dict[str, list[Any]]:
    """token -> [symbol, exchange, exchange type] of every subscribed instrument, by symbol."""
    from marketdata.models import Instrument

    return {
        i.token: [i.symbol, i.exchange, i.exchange_type]
        for i in Instrument.objects.filter(subscribed=True).order_by("symbol")
    }


def stored_count() -> int:
    from marketdata.models import MarketData

    return MarketData.objects.count()


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

        poll(subscribed, what="run_feed to subscribe every token at the peer")
        return feed

    def feed_stop(self, feed: subprocess.Popen[bytes]) -> dict[str, Any]:
        """Mute the peer, let the last ticks land, stop the feed (it stores what it holds)."""
        from marketdata.feed.heartbeat import heartbeat_read

        self.peer.mute()
        time.sleep(0.5)
        log = self.processes.log_of(feed)
        status = self.processes.stop(feed)
        poll(lambda: self.peer.connections == 0, what="the feed's streams to close", timeout=10)
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
            pids = {"run_feed": feed.pid, "daphne": child_pid("daphne")}
            result = self.measure(url, symbols, tokens, pids, during)
            if during is not None:  # the outage: the backlog must be stored while streaming
                self.peer.mute()
                sent = len(self.sends.sent)
                poll(lambda: stored_count() - before >= sent, what="every tick stored", timeout=30)
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
            poll(
                lambda: self.peer.subscribed_tokens() >= set(instruments),
                what="the relay to subscribe every token at the peer",
            )
            pids = {"relay": child_pid("--relay")}
            result = self.measure(f"ws://127.0.0.1:{port}/ws", symbols, tokens, pids)
        poll(lambda: self.peer.connections == 0, what="the relay's streams to close", timeout=10)
        return result


def outage(proxy: Any, seconds: float, sends: SendLog) -> Callable[[int, int], dict[str, Any]]:
    """Cut the database in the middle of the window for `seconds`; then time how long the
    feed takes to store what it held."""

    def during(start_ns: int, end_ns: int) -> dict[str, Any]:
        from marketdata.feed.heartbeat import heartbeat_read

        cut_at = (start_ns + end_ns) / 2e9 - seconds / 2
        time.sleep(max(0.0, cut_at - time.time()))
        proxy.cut()
        try:
            cut_ns = time.time_ns()
            before = stored_count()  # this process reaches the database directly
            time.sleep(seconds)
            seen = (heartbeat_read() or {}).get("database")  # what the feed reports, at the end
            stored_meanwhile = stored_count() - before
        finally:  # also when the bench is stopped: the feed then stores what it holds, and exits
            proxy.restore()
        back_ns = time.time_ns()
        # What was sent before the database returned must be stored soon after it returns.
        held = sum(1 for ns in list(sends.sent.values()) if ns < back_ns)
        started = time.monotonic()
        poll(lambda: stored_count() >= held, what="the backlog stored", timeout=30)
        return {
            "cut_ns": cut_ns,
            "back_ns": back_ns,
            "feed_saw": seen,
            "stored_during_outage": stored_meanwhile,
            "held": held - before,
            "caught_up_seconds": time.monotonic() - started,
        }

    return during


def sample(symbols: list[str], size: int) -> list[str]:
    """`size` symbols spread evenly over the list (so over the feed's three connections)."""
    step = max(1, len(symbols) // size)
    return symbols[::step][:size]


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
                    _show("(a) 6 tokens x 10/s: ours", results["a"])
                    results["a_bare"] = bench.bare(indices)
                    _show("(a) 6 tokens x 10/s: bare relay", results["a_bare"])
                    options_create(3000 - len(indices))
                    bench.peer.tick_interval = 1.0
                    picked = sample(sorted(v[0] for v in streamed().values()), args.sample)
                    results["b"] = bench.ours(port, access, picked)
                    _show(f"(b) 3,000 tokens x 1/s: ours ({len(picked)} watched)", results["b"])
                    results["b_bare"] = bench.bare(picked)
                    _show("(b) 3,000 tokens x 1/s: bare relay", results["b_bare"])
                else:
                    assert proxy is not None
                    during = outage(proxy, args.outage, bench.sends)
                    results["c"] = bench.ours(port, access, indices, during)
                    _show(f"(c) as (a), {args.outage:g} s database outage", results["c"])
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


def _show(name: str, result: dict[str, Any]) -> None:
    print(figures_line(name, result), flush=True)
    cpu = ", ".join(f"{name} {percent:.0f}%" for name, percent in result["cpu"].items())
    print(f"    CPU (% of one core): {cpu}", flush=True)
    first, last = result["p50_first_tenth"], result["p50_last_tenth"]
    if last > 2 * first + 5:
        print(f"    a growing backlog: p50 {first:.1f} ms for the first tenth of the ticks received, {last:.1f} ms for the last")  # fmt: skip
    if "outage" in result:
        print(figures_line("    sent during the outage", result["outage"]), flush=True)
    if "stored" in result:
        counted = ", ".join(f"{key} {value}" for key, value in result["feed"].items())
        print(
            f"    stored {result['stored']:,} of {result['frames_sent']:,} frames sent "
            f"(the feed's last heartbeat: {counted})",
            flush=True,
        )
    if "caught_up_seconds" in result:
        print(
            f"    during the outage the feed's heartbeat said database={result['feed_saw']} and "
            f"{result['stored_during_outage']} rows were stored; the {result['held']} ticks held "
            f"were stored {result['caught_up_seconds']:.1f} s after the database returned",
            flush=True,
        )


# --- The summary (the parent process) --------------------------------------------------------


def worst(runs: list[dict[str, Any]], scenario: str, *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run[scenario]
        for key in path:
            value = value[key]
        values.append(value)
    return max(values)


def verdict(value: float, target: float, unit: str) -> str:
    if value <= target:
        return f"meets (target <= {target:g}{unit})"
    return f"MISSES by {value - target:.1f}{unit} ({value / target:.1f}x; target <= {target:g}{unit})"  # fmt: skip


def summary(runs: list[dict[str, Any]]) -> None:
    n = len(runs)
    print(f"\nSummary, worst of {n} run{'s' * (n > 1)} for each figure:")
    rows = [
        ("a", (), "(a) 6 tokens x 10/s, SQLite"),
        ("a_bare", (), "    bare relay"),
        ("b", (), "(b) 3,000 tokens x 1/s, SQLite"),
        ("b_bare", (), "    bare relay"),
        ("c", (), "(c) as (a), PostgreSQL, outage"),
        ("c", ("outage",), "    sent during the outage"),
    ]
    for key, path, label in rows:
        if key in runs[0]:
            line = "  ".join(
                f"{name} {worst(runs, key, *path, name):6.2f} ms" for name in ("p50", "p99", "max")
            )
            print(f"  {label:<32} {line}  lost {worst(runs, key, *path, 'lost')}")
    foreign = sum(
        run[key].get("unmatched", 0) for run in runs for key in ("a", "b", "c") if key in run
    )
    if foreign:
        print(
            f"  WARNING: {foreign} ticks arrived that this bench's peer never sent: another "
            "process publishes on this Redis database (REDIS_URL); these figures are not "
            "reliable. Use a database of your own."
        )
    print("Targets:")
    if "a" in runs[0]:
        p99 = worst(runs, "a", "p99")
        print(f"  (a) p99 {p99:.2f} ms: {verdict(p99, TARGET_A_P99_MS, ' ms')}")
        ratio = max(run["a"]["p99"] / run["a_bare"]["p99"] for run in runs)
        print(f"  (a) p99 / the bare relay's p99 (same run) {ratio:.2f}x: {verdict(ratio, TARGET_A_RATIO, 'x')}")  # fmt: skip
        p99 = worst(runs, "b", "p99")
        print(f"  (b) p99 {p99:.2f} ms: {verdict(p99, TARGET_B_P99_MS, ' ms')}")
    if "c" in runs[0]:
        p99 = worst(runs, "c", "p99")
        print(f"  (c) p99 {p99:.2f} ms: {verdict(p99, TARGET_A_P99_MS, ' ms')}")
        missing = max(run["c"]["frames_sent"] - run["c"]["stored"] for run in runs)
        lost = worst(runs, "c", "outage", "lost")
        print(
            "  (c) every frame sent was stored, and no tick missed the live push during the outage"
            if missing == 0 and lost == 0
            else f"  (c) MISSES: {missing} frames not stored, {lost} ticks not pushed in the outage"
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
