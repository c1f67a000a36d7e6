"""What every part of the benchmark shares: where things are, the clock, statistics, /proc readings."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent  # protocol/bench
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
BUILD_DIR = ROOT / ".build-bench"
DEFAULT_BINARY = BUILD_DIR / "release" / "caal-llm-worker"
sys.path.insert(0, str(ROOT / "protocol" / "python"))

MESSAGES = [{"role": "system", "content": "You are a helpful voice assistant."},
            {"role": "user", "content": "Tell me a story."}]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def now_ns() -> int:
    # CLOCK_MONOTONIC: the same clock in every process of this machine, so the server's send time and a
    # client's receive time can be subtracted.
    return time.monotonic_ns()


def ms(ns: float) -> float:
    return ns / 1e6


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_kib(pid: int, field: str = "VmRSS") -> int | None:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_ms(pid: int) -> float | None:
    """CPU time a process has used so far (user + system), in ms, from /proc (10 ms steps)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    """Resets VmHWM (Linux: writing 5 to clear_refs), so the next peak is that of the phase that follows."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
