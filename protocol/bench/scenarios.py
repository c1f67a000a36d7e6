"""The scenarios: each measures every client round-robin (in process) or one client per child process.

A column that fails (an exception, or no result within MEASURE_LIMIT_S) is recorded with its reason and left out
of the rest of that scenario; the other columns are measured.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from clients import make_side
from measure import HERE, cpu_ms, log, median, ms, now_ns, percentile, reset_peak, rss_kib
from servers import UpstreamProcess, delta_text, make_spec


# A measurement of one column taking longer than this is a failure of that column, not a wait without end.
MEASURE_LIMIT_S = 300.0


def failure_reason(exc: BaseException) -> str:
    """One line saying why a column failed."""
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"no result within {exc.timeout:g} s"
    if isinstance(exc, asyncio.TimeoutError) and not str(exc):  # asyncio.wait_for's, at MEASURE_LIMIT_S
        return f"no result within {MEASURE_LIMIT_S:g} s"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def round_robin(sides: list, warmup: int, repeats: int, measure,
                      failed: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Runs `measure(side)` for each side in turn, `warmup` discarded rounds then `repeats` kept ones.

    With `failed`, a side whose measurement fails (or outlasts MEASURE_LIMIT_S) is left out of the remaining
    rounds, its reason recorded there under its name, and the other sides go on; without it, the failure is
    raised."""
    samples: dict[str, list[float]] = {side.name: [] for side in sides}
    for round_number in range(warmup + repeats):
        order = sides if round_number % 2 == 0 else list(reversed(sides))
        for side in order:
            if failed is not None and side.name in failed:
                continue
            gc.collect()
            try:
                value = await asyncio.wait_for(measure(side), MEASURE_LIMIT_S)
            except Exception as exc:
                if failed is None:
                    raise
                failed[side.name] = failure_reason(exc)
                log(f"{side.name} failed: {failed[side.name]}; the other columns go on")
                samples[side.name] = []
                continue
            if round_number >= warmup:
                samples[side.name].append(value)
    return samples


TTFT_SPEC = make_spec(n=20, size=5)


async def time_to_first_token(side, spec: str = TTFT_SPEC) -> float:
    """Request sent until the first content delta is in the caller's hands (ms); the stream is read to its end."""
    first: list[int] = []
    t0 = now_ns()
    await side.stream(spec, lambda text: first.append(now_ns()) if not first else None)
    return ms(first[0] - t0)


async def scenario_ttft(sides, cfg, failed: dict[str, str]) -> dict[str, list[float]]:
    return await round_robin(sides, cfg.warmup, cfg.repeats_ttft, time_to_first_token, failed)


class FreshSide:
    """A column whose every measurement starts a new client (a new worker process, a new HTTP session)."""

    def __init__(self, kind: str, binary: Path, base_url: str) -> None:
        self.name, self.binary, self.base_url = kind, binary, base_url


async def scenario_first_request(kinds: list[str], binary: Path, base_url: str, cfg,
                                 failed: dict[str, str]) -> dict[str, list[float]]:
    """A session's first request: a new client that has sent nothing yet, so the connection is set up inside the
    measurement. The worker is spawned and configured first (configure answers at once and pre-opens a connection
    in the background); the clock starts when the chat request is sent, right after configure's answer."""

    async def measure(fresh: FreshSide) -> float:
        side = make_side(fresh.name, fresh.binary, fresh.base_url)
        try:
            await side.start()
            return await time_to_first_token(side)
        finally:
            await side.close()

    return await round_robin([FreshSide(kind, binary, base_url) for kind in kinds], cfg.warmup, cfg.repeats_first,
                             measure, failed)


async def scenario_after_idle(sides, cfg, failed: dict[str, str]) -> dict[str, list[float]]:
    """A request after the server closed the client's kept-alive connections for being idle: one request opens
    them, the client then waits `idle_wait_s` (longer than the server's idle close) before asking again."""

    async def measure(side) -> float:
        await side.stream(make_spec(n=1))
        await asyncio.sleep(cfg.idle_wait_s)
        return await time_to_first_token(side)

    return await round_robin(sides, cfg.warmup, cfg.repeats_idle, measure, failed)


async def scenario_throughput(sides, cfg, mode: str, failed: dict[str, str]) -> dict[str, list[float]]:
    spec = make_spec(n=cfg.deltas, size=cfg.delta_size, mode=mode)
    expected = sum(len(delta_text(i, cfg.delta_size)) for i in range(cfg.deltas))

    async def measure(side) -> float:
        received = [0]

        def count(text: str) -> None:
            received[0] += len(text)

        t0 = now_ns()
        await side.stream(spec, count)
        elapsed = ms(now_ns() - t0)
        if received[0] != expected:
            raise RuntimeError(f"{side.name} received {received[0]} characters of {expected}")
        return elapsed

    return await round_robin(sides, cfg.warmup, cfg.repeats_throughput, measure, failed)


async def scenario_cancel(sides, cfg, upstream: UpstreamProcess, failed: dict[str, str]) -> dict[str, list[float]]:
    async def measure(side) -> float:
        tag = uuid.uuid4().hex[:12]
        spec = make_spec(n=2000, size=5, interval=10, tag=tag)
        t_cancel: list[int] = []
        await side.cancel_after_first(spec, t_cancel)
        for _ in range(400):
            record = await upstream.stats(tag)
            if record.get("t_closed") or record.get("complete"):
                break
            await asyncio.sleep(0.005)
        if not record.get("t_closed"):
            raise RuntimeError(f"{side.name}: the upstream connection was not closed after cancel")
        await asyncio.sleep(0.02)  # let the cancelled request's answer arrive before the next round
        return ms(record["t_closed"] - t_cancel[0])

    return await round_robin(sides, cfg.warmup, cfg.repeats_cancel, measure, failed)


async def scenario_reconnect(workers, cfg, failed: dict[str, str]) -> dict[str, dict[str, list[float]]]:
    """The worker columns only: a request whose kept-alive connection the server drops without answering (how long
    until its answer, and the worker's CPU meanwhile), and the worker's CPU while it waits 1 s for a first token on a
    kept-alive connection and on a new one. Each round measures every worker column in turn."""
    keys = ("recover_ms", "recover_cpu_ms", "wait_reused_cpu_ms", "wait_new_cpu_ms")

    async def cpu_during(worker, spec: str) -> tuple[float, float]:
        c0, t0 = cpu_ms(worker.pid), now_ns()
        await worker.stream(spec)
        return ms(now_ns() - t0), cpu_ms(worker.pid) - c0

    wait = make_spec(n=1, first=cfg.reconnect_wait_ms)

    async def measure(worker) -> dict[str, float]:
        await worker.stream(make_spec(n=1))  # leaves a kept-alive connection
        elapsed, cpu = await cpu_during(worker, make_spec(n=20, drop=1))
        _, reused = await cpu_during(worker, wait)
        await worker.stream(make_spec(n=1, close=1))  # the next request needs a new connection
        _, new = await cpu_during(worker, wait)
        return dict(zip(keys, (elapsed, cpu, reused, new)))

    rounds = await round_robin(workers, cfg.warmup, cfg.repeats_reconnect, measure, failed)
    return {kind: {key: [r[key] for r in values] for key in keys} for kind, values in rounds.items() if values}


def measure_startup(binary: Path, venv_python: str | None, repeats: int, warmup: int) -> dict[str, list[float]]:
    ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'

    def worker_once() -> float:
        t0 = now_ns()
        proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        proc.stdin.write(ping)
        proc.stdin.flush()
        line = proc.stdout.readline()
        t1 = now_ns()
        if b'"ok":true' not in line:
            raise RuntimeError(f"unexpected ping answer: {line!r}")
        proc.stdin.close()
        proc.wait()
        return ms(t1 - t0)

    def python_once(code: str) -> float:
        t0 = now_ns()
        subprocess.run([venv_python, "-c", code], check=True)
        return ms(now_ns() - t0)

    samples: dict[str, list[float]] = {"worker": [], "openai": [], "aiohttp": []}
    for round_number in range(warmup + repeats):
        values = {"worker": worker_once()}
        if venv_python:
            values["openai"] = python_once("import openai")
            values["aiohttp"] = python_once("import aiohttp")
        if round_number >= warmup:
            for key, value in values.items():
                samples[key].append(value)
    return samples


# --- scenarios run in a fresh child process per client (memory is then that client's alone) ---------


async def child_concurrency(side, params: dict[str, Any]) -> dict[str, Any]:
    """Paced streams first (a realistic load: added latency per delta), then instant ones (throughput);
    the peak RSS of each phase separately. One warm-up round opens the connections, as in a running assistant."""
    streams, n_instant, n_paced, interval = params["streams"], params["n_instant"], params["n_paced"], params["interval"]
    await side.start()
    pid = side.pid if side.is_worker else os.getpid()
    await asyncio.gather(*(side.stream(make_spec(n=5, size=5)) for _ in range(streams)))
    latencies: list[float] = []
    steady: list[float] = []  # deltas sent once all streams had started (0.5 s into the round)
    stamp = re.compile(r"(\d+)\|")
    round_start = [0]

    def on_content(text: str) -> None:
        t = now_ns()
        for sent in stamp.findall(text):
            latencies.append(ms(t - int(sent)))
            if int(sent) - round_start[0] >= 500_000_000:
                steady.append(ms(t - int(sent)))

    gc.collect()
    reset_peak(pid)
    for _ in range(params["repeats"]):
        spec = make_spec(n=n_paced, size=24, interval=interval, stamp=1)
        round_start[0] = now_ns()
        await asyncio.gather(*(side.stream(spec, on_content) for _ in range(streams)))
    peak_paced = rss_kib(pid, "VmHWM")
    throughput: list[float] = []
    gc.collect()
    reset_peak(pid)
    for _ in range(params["repeats"]):
        spec = make_spec(n=n_instant, size=5)
        t0 = now_ns()
        await asyncio.gather(*(side.stream(spec, lambda text: None) for _ in range(streams)))
        throughput.append(streams * n_instant / ((now_ns() - t0) / 1e9))
    expected = streams * n_paced * params["repeats"]
    return {"throughput": median(throughput), "throughput_samples": throughput,
            "latency_p50": percentile(latencies, 50), "latency_p99": percentile(latencies, 99),
            "steady_p50": percentile(steady, 50), "steady_p99": percentile(steady, 99),
            "latency_count": len(latencies), "latency_expected": expected,
            "peak_rss_paced_kib": peak_paced, "peak_rss_instant_kib": rss_kib(pid, "VmHWM")}


async def child_memory(side, params: dict[str, Any]) -> dict[str, Any]:
    total, concurrency, warm = params["requests"], params["concurrency"], params["warm"]
    await side.start()
    pid = side.pid if side.is_worker else os.getpid()
    spec = make_spec(n=5, size=5)
    await side.stream(spec)
    await asyncio.sleep(0.5)
    idle = rss_kib(pid)
    done = 0
    after_warm = None
    t0 = now_ns()

    async def one_lane(count: int) -> None:
        for _ in range(count):
            await side.stream(spec)

    while done < total:
        batch = min(total - done, warm if after_warm is None else total - done)
        lanes = [batch // concurrency + (1 if i < batch % concurrency else 0) for i in range(concurrency)]
        await asyncio.gather(*(one_lane(c) for c in lanes if c))
        done += batch
        if after_warm is None:
            gc.collect()
            await asyncio.sleep(0.3)
            after_warm = rss_kib(pid)
    elapsed = (now_ns() - t0) / 1e9
    gc.collect()
    await asyncio.sleep(0.5)
    return {"idle_rss_kib": idle, "warm_rss_kib": after_warm, "final_rss_kib": rss_kib(pid),
            "requests": total, "requests_per_s": total / elapsed}


def run_child(kind: str, task: str, binary: Path, base_url: str, params: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "bench.py"), "--child", kind, "--task", task, "--binary", str(binary),
               "--base-url", base_url, "--params", json.dumps(params)]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=MEASURE_LIMIT_S * 2)
    if result.returncode != 0:
        last = [line for line in result.stderr.splitlines() if line.strip()][-1:] or [f"status {result.returncode}"]
        raise RuntimeError(last[0].strip())
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_children(results: dict[str, Any], task: str, kinds: list[str], binary: Path, base_url: str,
                     params: dict[str, Any], rounds: int) -> None:
    """A child-process scenario, `rounds` times over the columns in turn (alternating order, as `round_robin`), a new
    child per column and round, so a burst of load on the machine hits the columns alike. A column's figures are
    the median over its rounds (a peak RSS: the highest), its rounds kept under "rounds". A column that fails is
    recorded with its reason and left out of the later rounds; the other columns go on."""
    failed = results["failed"].setdefault(task, {})
    per_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for number in range(rounds):
        for kind in kinds if number % 2 == 0 else list(reversed(kinds)):
            if kind in failed:
                continue
            log(f"{task}: {kind}, round {number + 1} of {rounds}")
            try:
                per_kind[kind].append(run_child(kind, task, binary, base_url, params))
            except Exception as exc:
                failed[kind] = failure_reason(exc)
                per_kind[kind] = []
                log(f"{kind} failed: {failed[kind]}; the other columns go on")
    results[task] = {kind: combine_rounds(values) for kind, values in per_kind.items() if values}


def combine_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    combined: dict[str, Any] = {}
    for key in rounds[0]:
        values = [r[key] for r in rounds if isinstance(r.get(key), (int, float))]
        if values:
            combined[key] = max(values) if key.startswith("peak_") else median(values)
    combined["rounds"] = rounds
    return combined


def child_main(kind: str, task: str, binary: Path, base_url: str, params: dict[str, Any]) -> None:
    async def main() -> dict[str, Any]:
        side = make_side(kind, binary, base_url)
        try:
            if task == "concurrency":
                return await child_concurrency(side, params)
            return await child_memory(side, params)
        finally:
            await side.close()

    print(json.dumps(asyncio.run(main())), flush=True)
