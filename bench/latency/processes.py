"""bench/latency's processes: starting and stopping them, their CPU, py-spy, and waiting on
them."""

import contextlib
import os
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]


START_TIMEOUT = 60.0


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
