#!/usr/bin/env python3
"""Benchmark of caal-llm-worker, on each of its transports, against the openai SDK and a bare aiohttp client (issues 7, 14).

    python3 protocol/bench/bench.py            # the full table (about 6 minutes on 2 cores)
    python3 protocol/bench/bench.py --quick    # fewer repeats, for a quick look
    python3 protocol/bench/bench.py --json     # machine-readable results on stdout

What it does, on its own:
  * builds the worker as it ships (`swift build -c release --static-swift-stdlib`, the build of
    Tests/release/build-release.sh) into .build-bench/ (git-ignored; incremental, seconds when up to date);
    --binary PATH measures another build instead, --no-build uses .build-bench as it is;
  * creates protocol/bench/.venv (git-ignored) and pip-installs `openai` and `aiohttp` into it if they are
    missing, then re-runs itself with that interpreter. Without pip (or with --worker-only) only the worker
    columns are measured. The product never needs either package: they are the comparison.
  * starts its own OpenAI-compatible upstream on 127.0.0.1 in a separate process (asyncio, HTTP/1.1
    keep-alive, chunked SSE in the exact wire shape of the OpenAI API, instant or paced, any number and size
    of deltas), and checks it is not the bottleneck (a raw socket reads its whole answer far faster than any
    client parses it);
  * measures every scenario for the four clients round-robin in one run (so machine noise hits them all
    alike), after warm-up, and prints medians with the ratios and the targets of issues 7 and 14, then a
    summary of the socket transport against its targets and against URLSession.

The two worker columns go through the real Python client (protocol/python, `WorkerClient`), i.e. the path CAAL
uses: Python → pipe → worker → HTTP → worker → pipe → Python, with configure's `transport` set to `socket` (the
worker's own HTTP/1.1 client) or `urlsession`. The openai SDK column is `AsyncOpenAI` streaming in process; the
aiohttp column reads and json-decodes the SSE stream directly (the floor).

This file is the command line and the run; the parts are measure.py (clock, statistics, /proc), servers.py
(the upstream), clients.py (the columns), scenarios.py, report.py (the table) and summary.py (the socket
transport against issue 14's targets). README.md says what
each row means. A column that fails is reported as failed, with its reason, under the table.

Nothing here is a test: `swift test` never depends on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from clients import NO_HTTP, WORKER_KINDS, make_side
from measure import BUILD_DIR, DEFAULT_BINARY, ROOT, VENV, log, median, ms
from report import build_rows, render
from scenarios import (MEASURE_LIMIT_S, child_main, failure_reason, measure_children, measure_startup, scenario_after_idle,
                       scenario_cancel, scenario_first_request, scenario_reconnect, scenario_throughput, scenario_ttft)
from servers import UpstreamConnection, UpstreamProcess, make_spec, serve
from summary import socket_summary


def have_comparison_packages() -> bool:
    try:
        import aiohttp  # noqa: F401
        import openai  # noqa: F401
        return True
    except ImportError:
        return False


def bootstrap(args) -> bool:
    """Makes sure the comparison packages are importable, re-running under the venv if needed.

    Returns whether the openai/aiohttp columns can be measured."""
    if args.worker_only:
        return False
    if have_comparison_packages():
        return True
    if os.environ.get("CAAL_BENCH_REEXEC"):
        log("openai/aiohttp still not importable in the venv; measuring the worker columns only")
        return False
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            log(f"creating a virtual environment for the comparison clients in {VENV.relative_to(ROOT)} (git-ignored)")
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        if subprocess.run([str(python), "-c", "import openai, aiohttp"], stderr=subprocess.DEVNULL).returncode != 0:
            log("pip-installing openai and aiohttp into it (the benchmark's comparison only; the product needs neither)")
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "openai", "aiohttp"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"could not install openai/aiohttp ({exc}); measuring the worker columns only")
        return False
    env = dict(os.environ, CAAL_BENCH_REEXEC="1")
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)
    return False  # not reached


def ensure_binary(cfg) -> Path:
    """The binary to measure: --binary as given, else the shipped build of the current sources."""
    if cfg.binary:
        return Path(cfg.binary)
    if not cfg.no_build or not DEFAULT_BINARY.exists():
        log("building the worker as it ships: swift build -c release --static-swift-stdlib "
            f"--scratch-path {BUILD_DIR.name} (a few minutes the first time, seconds after)")
        command = ["swift", "build", "-c", "release", "--scratch-path", str(BUILD_DIR), "--product", "caal-llm-worker"]
        if subprocess.run(command + ["--static-swift-stdlib"], cwd=ROOT, stdout=sys.stderr).returncode != 0:
            # The static link needs libcurl's development files (Tests/release/build-release.sh installs them).
            log("the static build failed; building with the shared Swift libraries instead (start-up is slower)")
            subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    if not DEFAULT_BINARY.exists():
        raise SystemExit(f"the build did not produce {DEFAULT_BINARY}")
    return DEFAULT_BINARY


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout (the table goes to stderr)")
    p.add_argument("--quick", action="store_true", help="fewer repeats and requests (a rough look in well under a minute)")
    p.add_argument("--only", default="", help="comma-separated scenarios: "
                   "startup,ttft,first,idle,throughput,concurrency,cancel,reconnect,memory")
    p.add_argument("--worker-only", action="store_true", help="skip the openai SDK and aiohttp columns")
    p.add_argument("--binary", default=None, help="measure this worker binary instead of building one")
    p.add_argument("--no-build", action="store_true", help="use the binary in .build-bench without running swift build")
    p.add_argument("--deltas", type=int, default=2000, help="deltas in the throughput scenario (default 2000)")
    p.add_argument("--delta-size", type=int, default=5, help="characters per delta (default 5, about one token)")
    p.add_argument("--mode", choices=["each", "burst"], default="each",
                   help="instant server: one write per event (default) or the whole answer in one write")
    p.add_argument("--streams", type=int, default=256, help="concurrent streams (default 256)")
    p.add_argument("--interval", type=float, default=20.0, help="ms between deltas of the paced concurrent streams (default 20)")
    p.add_argument("--mem-requests", type=int, default=10000, help="requests of the memory scenario (default 10000)")
    p.add_argument("--repeats", type=int, default=None, help="repeats of each timed scenario (default 25, 7 with --quick)")
    # internal
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--idle-close", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--task", default=None, help=argparse.SUPPRESS)
    p.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    r = args.repeats or (7 if args.quick else 25)
    args.warmup = 3 if args.quick else 5
    args.repeats_ttft = r * 2
    args.repeats_throughput = r
    args.repeats_cancel = r
    args.repeats_startup = r
    args.repeats_first = r
    args.repeats_idle = r
    # The server of the idle row closes a connection idle this long; the client waits longer before asking again.
    args.idle_close_s = 0.25
    args.idle_wait_s = 0.5
    args.repeats_reconnect = 3 if args.quick else 7
    args.reconnect_wait_ms = 1000
    args.c_instant = 200
    args.c_paced = 50
    args.c_rounds = 2 if args.quick else 3  # a new child process per column and round, the columns in turn
    if args.quick:
        args.mem_requests = min(args.mem_requests, 2000)
    args.mem_warm = max(1, args.mem_requests // 10)
    args.mem_growth_mb = 2.0
    return args


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


async def run_in_process(cfg, kinds: list[str], binary: Path, upstream: UpstreamProcess, results: dict[str, Any], only) -> None:
    failed = results["failed"]
    scenarios = [name for name in ("ttft", "first", "idle", "throughput", "throughput_other", "cancel", "reconnect")
                 if only(name.removesuffix("_other"))]
    sides = await start_sides([make_side(kind, binary, upstream.base_url) for kind in kinds],
                              [failed.setdefault(name, {}) for name in scenarios])
    try:
        results["transports"] = {side.name: side.reported_transport() for side in sides if side.is_worker}
        if only("ttft"):
            log("time to first token")
            # With the worker on its mock provider alongside: what the worker's path costs without any HTTP.
            extra = await start_sides([make_side(NO_HTTP, binary, upstream.base_url)], [failed.setdefault("ttft", {})])
            try:
                results["ttft"] = await scenario_ttft(sides + extra, cfg, failed["ttft"])
            finally:
                for side in extra:
                    await side.close()
        if only("first"):
            log("time to first token of a session's first request (a new client each time)")
            results["first"] = await scenario_first_request(kinds, binary, upstream.base_url, cfg, failed.setdefault("first", {}))
        if only("idle"):
            log(f"time to first token after the server closed idle connections ({cfg.idle_close_s:g} s idle close, "
                f"{cfg.idle_wait_s:g} s wait)")
            try:
                results["idle"] = await measure_after_idle(cfg, kinds, binary, failed.setdefault("idle", {}))
            except Exception as exc:
                failed["idle"]["all"] = failure_reason(exc)
        if only("throughput"):
            # Two server behaviours: one write per event (a server generating tokens as fast as it can; the
            # issue's scenario) and the whole answer in one write (the server then costs ~1 ms: whatever time
            # is left is the client's own, which shows the server is not what limits the first row).
            for mode, key in ((cfg.mode, "throughput"), ("burst" if cfg.mode == "each" else "each", "throughput_other")):
                log(f"throughput: {cfg.deltas} deltas, server mode {mode}")
                results[key] = await scenario_throughput(sides, cfg, mode, failed.setdefault(key, {}))
                floor = []
                sends = []
                for _ in range(cfg.repeats_throughput):
                    tag = uuid.uuid4().hex[:12]
                    floor.append(await upstream.raw_read(make_spec(n=cfg.deltas, size=cfg.delta_size, mode=mode, tag=tag)))
                    record = await upstream.stats(tag)
                    sends.append(ms(record["t_last"] - record["t_first"]))
                results[key + "_mode"] = mode
                results[key + "_server_floor_ms"] = median(floor)
                results[key + "_server_send_ms"] = median(sends)
        if only("cancel"):
            log("cancel latency")
            results["cancel"] = await scenario_cancel(sides, cfg, upstream, failed.setdefault("cancel", {}))
        if only("reconnect"):
            log("dropped kept-alive connections, and the CPU a wait for the first token costs (worker columns)")
            workers = [side for side in sides if side.is_worker]
            results["reconnect"] = await scenario_reconnect(workers, cfg, failed.setdefault("reconnect", {}))
    finally:
        for side in sides:
            await side.close()


async def start_sides(sides: list, failed_in: list[dict[str, str]]) -> list:
    """Starts each column's client; one that cannot start is failed, with its reason, in each of `failed_in`."""
    started = []
    for side in sides:
        try:
            await asyncio.wait_for(side.start(), MEASURE_LIMIT_S)
        except Exception as exc:
            log(f"{side.name} could not start: {failure_reason(exc)}; the other columns go on")
            for failed in failed_in:
                failed.setdefault(side.name, failure_reason(exc))
            await side.close()
            continue
        started.append(side)
    return started


async def measure_after_idle(cfg, kinds: list[str], binary: Path, failed: dict[str, str]) -> dict[str, list[float]]:
    """The idle row, on a server of its own that closes idle connections (the other rows' server never does)."""
    upstream = UpstreamProcess([str(Path(__file__).resolve()), "--serve", "--idle-close", str(cfg.idle_close_s)])
    sides = await start_sides([make_side(kind, binary, upstream.base_url) for kind in kinds], [failed])
    try:
        return await scenario_after_idle(sides, cfg, failed)
    finally:
        for side in sides:
            await side.close()
        upstream.close()


def main(argv: list[str]) -> None:
    cfg = parse_args(argv)
    if cfg.serve:
        UpstreamConnection.idle_close_s = cfg.idle_close
        serve(cfg.port)
        return
    if cfg.child:
        child_main(cfg.child, cfg.task, Path(cfg.binary or DEFAULT_BINARY), cfg.base_url, json.loads(cfg.params))
        return

    comparisons = bootstrap(cfg)
    binary = ensure_binary(cfg)
    kinds = [*WORKER_KINDS, "openai", "aiohttp"] if comparisons else list(WORKER_KINDS)
    selected = {s for s in cfg.only.split(",") if s}
    only = lambda name: not selected or name in selected  # noqa: E731
    started = time.monotonic()
    meta = {"cores": os.cpu_count(), "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(), "commit": git_commit(), "platform": platform.platform(),
            "binary": str(binary), "binary_given": bool(cfg.binary)}
    results: dict[str, Any] = {"failed": {}, "columns": kinds}

    if only("startup"):
        log("start-up")
        try:
            results["startup"] = measure_startup(binary, sys.executable if comparisons else None, cfg.repeats_startup, cfg.warmup)
        except Exception as exc:
            results["failed"]["startup"] = {"all": failure_reason(exc)}
    upstream = UpstreamProcess()
    try:
        asyncio.run(run_in_process(cfg, kinds, binary, upstream, results, only))
        if only("concurrency"):
            log(f"{cfg.streams} concurrent streams")
            params = {"streams": cfg.streams, "n_instant": cfg.c_instant, "n_paced": cfg.c_paced, "interval": cfg.interval,
                      "repeats": 1}
            measure_children(results, "concurrency", kinds, binary, upstream.base_url, params, cfg.c_rounds)
        if only("memory"):
            log(f"memory over {cfg.mem_requests} requests")
            params = {"requests": cfg.mem_requests, "concurrency": 8, "warm": cfg.mem_warm}
            measure_children(results, "memory", kinds, binary, upstream.base_url, params, 1)
    finally:
        upstream.close()

    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed_s"] = time.monotonic() - started
    rows = build_rows(results, cfg)
    summary = socket_summary(rows, results)
    table = render(rows, meta, summary)
    if cfg.json:
        print(table, file=sys.stderr)
        print(json.dumps({"meta": meta, "rows": [row.as_dict() for row in rows], "summary": summary, "raw": results}, indent=2))
    else:
        print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
