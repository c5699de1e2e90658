"""bench/latency's figures: percentiles per scenario, each scenario's lines, and the summary
of the worst run."""

import math
from collections.abc import Sequence
from typing import Any

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


def show(name: str, result: dict[str, Any]) -> None:
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
