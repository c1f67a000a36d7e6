#!/usr/bin/env python3
"""Benchmark of CAAL's voice loop: when the first words reach text-to-speech (issue 12).

    python3 protocol/bench/caal_loop.py            # about 4 minutes on 2 cores
    python3 protocol/bench/caal_loop.py --quick    # fewer repeats
    python3 protocol/bench/caal_loop.py --json     # machine-readable results on stdout

Two tables, each measured side by side in one run:
  1. Time to the first chunk of a turn, after the server's first content token, on a server that paces its
     tokens 40 ms apart: CAAL's own `llm_node` with its in-process provider (the openai SDK) against
     `caal_llm_worker.llm_node` with `WorkerProvider`, for a direct answer with tools offered, a tool round
     then the answer, and no tools.
  2. Time from the start of a turn to its first chunk, for a session's first turn (1 s after the provider
     is built) and for a turn after 10 s of silence on a server that closes connections idle for 5 s:
     the in-process provider, the worker started at the first call (as before issue 12), the worker
     started when the provider is built, and the worker told to `warm` when the user starts speaking.

It needs CAAL's source (`CAAL_SRC`, else ../shared/reference/caal/src) and CAAL's dependencies: it re-runs
itself under `CAAL_VENV`, else <repo>/.venv-caal, else protocol/bench/.venv (git-ignored), into which it
pip-installs CAAL's requirements-llm-node.txt. Where that cannot be done, the rows say why and are
skipped. The worker is built as bench.py builds it (release, into .build-bench/); its upstream server is
servers.py's, extended by loop_upstream.py.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import bench
import report
import scenarios
import servers
from measure import ROOT, VENV, log, median, ms, now_ns

SCRIPT = Path(__file__).resolve()
CAAL_SRC = Path(os.environ.get("CAAL_SRC") or ROOT.parent / "shared" / "reference" / "caal" / "src")
REQUIREMENTS = CAAL_SRC.parent / "requirements-llm-node.txt"
PACE_MS = 40  # per token, the first one included
ANSWER_TOKENS = 20
IDLE_S, SERVER_IDLE_CLOSE_S, SPEAKING_S = 10.0, 5.0, 1.0
CAAL_MODULES = ("caal.llm.llm_node", "caal.llm.providers.openai_compatible_provider", "livekit.agents.llm")


# =====================================================================================================
# CAAL and its dependencies
# =====================================================================================================

def caal_problem() -> str | None:
    """None when CAAL's llm_node imports here, else why not."""
    if str(CAAL_SRC) not in sys.path:
        sys.path.insert(0, str(CAAL_SRC))
    try:
        for module in CAAL_MODULES:
            importlib.import_module(module)
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def bootstrap() -> str | None:
    """Re-runs this script under a Python that has CAAL's dependencies; returns why not when none can be had."""
    problem = caal_problem()
    if problem is None:
        return None
    if not (CAAL_SRC / "caal" / "llm" / "llm_node.py").is_file():
        return f"CAAL's source is not at {CAAL_SRC} (set CAAL_SRC)"
    if os.environ.get("CAAL_LOOP_BENCH_REEXEC"):
        return f"CAAL does not import under {sys.executable}: {problem}"
    venvs = [Path(os.environ["CAAL_VENV"])] if os.environ.get("CAAL_VENV") else []
    python = next((v / "bin" / "python" for v in venvs + [ROOT / ".venv-caal"] if (v / "bin" / "python").exists()), None)
    if python is None:
        python = VENV / "bin" / "python"
        env = dict(os.environ, PYTHONPATH=str(CAAL_SRC))
        try:
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            check = "import " + ", ".join(CAAL_MODULES)
            if subprocess.run([str(python), "-c", check], env=env, stderr=subprocess.DEVNULL).returncode != 0:
                log(f"pip-installing CAAL's dependencies ({REQUIREMENTS.name}) into {VENV.relative_to(ROOT)} (git-ignored)")
                subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)],
                               check=True)
        except (subprocess.CalledProcessError, OSError) as exc:
            return f"CAAL's dependencies could not be installed ({exc})"
    env = dict(os.environ, CAAL_LOOP_BENCH_REEXEC="1")
    os.execve(str(python), [str(python), str(SCRIPT), *sys.argv[1:]], env)
    return None  # not reached


class Agent:
    """What CAAL's loop reads from its agent: its tools, and callbacks (none here)."""

    def __init__(self, with_tools: bool) -> None:
        self._tools = [self.get_weather] if with_tools else []

    async def get_weather(self, city: str) -> dict[str, Any]:
        """Current weather for a city."""
        return {"city": city, "temp_c": 18, "sky": "sunny"}


def chat_ctx(tag: str) -> Any:
    from livekit.agents.llm import ChatContext

    ctx = ChatContext()
    ctx.add_message(role="system", content="You are a voice assistant.")
    ctx.add_message(role="user", content=f"What's the weather like in Paris? [tag={tag}]")
    return ctx


class Side:
    """One way CAAL can run a turn: a loop, a provider factory, an agent."""

    def __init__(self, name: str, loop: Callable[..., Any], make_provider: Callable[[], Any], agent: Agent) -> None:
        self.name, self.loop, self.make_provider, self.agent = name, loop, make_provider, agent
        self.provider: Any = None

    async def turn(self, tag: str) -> int:
        """Runs a whole turn; returns when its first non-empty chunk came (monotonic ns)."""
        first = 0
        async for chunk in self.loop(self.agent, chat_ctx(tag), self.provider):
            if chunk and not first:
                first = now_ns()
        if not first:
            raise RuntimeError(f"{self.name}: the turn said nothing")
        return first

    async def close(self) -> None:
        if self.provider is None:
            return
        if hasattr(self.provider, "aclose"):
            await self.provider.aclose()
        else:
            await self.provider._client.close()  # CAAL's in-process provider: its AsyncOpenAI
        self.provider = None


def sides(binary: Path, base_url: str, spec: str, with_tools: bool) -> dict[str, Side]:
    from caal.llm.providers.openai_compatible_provider import OpenAICompatibleProvider
    from caal_llm_worker.llm_node import llm_node
    from caal_llm_worker.provider import WorkerProvider

    caal = importlib.import_module("caal.llm.llm_node")  # `caal.llm` re-exports the function under this name
    agent = Agent(with_tools)
    return {
        "caal": Side("caal", caal.llm_node, lambda: OpenAICompatibleProvider(model=spec, base_url=base_url), agent),
        "worker": Side("worker", llm_node, lambda: WorkerProvider("openai_compatible", spec, base_url, worker_path=binary), agent),
    }


async def worker_has_warm(binary: Path) -> bool:
    from caal_llm_worker import WorkerClient

    async with WorkerClient(binary) as client:
        methods = (await client.request("rpc.discover")).get("methods", [])
    return any(method.get("name") == "warm" for method in methods)


# =====================================================================================================
# Scenarios
# =====================================================================================================

FIRST_CHUNK_CASES = [
    ("direct", "tools offered, the model answers at once", False, True),
    ("tool_round", "a tool round, then the answer", True, True),
    ("no_tools", "no tools", False, False),
]


async def scenario_first_chunk(cfg, binary: Path, upstream: servers.UpstreamProcess) -> dict[str, Any]:
    """First chunk − the server's first content token of the answer, per case and loop."""
    results: dict[str, Any] = {}
    for key, label, calls_tool, with_tools in FIRST_CHUNK_CASES:
        log(f"first chunk: {label}")
        spec = servers.make_spec(n=ANSWER_TOKENS, size=5, first=PACE_MS, interval=PACE_MS, tool="get_weather" if calls_tool else None)
        pair = sides(binary, upstream.base_url, spec, with_tools)
        completion: list[float] = []

        async def measure(side: Side) -> float:
            tag = uuid.uuid4().hex[:12]
            first = await side.turn(tag)
            record = await upstream.stats(tag)
            if side.name == "worker":
                completion.append(ms(record["t_last"] - record["t_first"]))
            return ms(first - record["t_first"])

        try:
            for side in pair.values():
                side.provider = side.make_provider()
            results[key] = await scenarios.round_robin(list(pair.values()), cfg.warmup, cfg.repeats, measure)
            results[key + "_completion_ms"] = median(completion)
        finally:
            for side in pair.values():
                await side.close()
    return results


async def scenario_loop_overhead(cfg, binary: Path, upstream: servers.UpstreamProcess) -> list[float]:
    """The streamed loop's own share of its first chunk: from the provider's first piece to the loop's yield (µs)."""
    from caal_llm_worker.provider import StreamedReply

    spec = servers.make_spec(n=3, size=5, first=PACE_MS, interval=PACE_MS)
    side = sides(binary, upstream.base_url, spec, with_tools=True)["worker"]
    pieces: list[int] = []
    content = StreamedReply._content

    async def noting_the_first_piece(reply: Any) -> Any:
        async for piece in content(reply):
            pieces.append(now_ns())
            yield piece

    StreamedReply._content = noting_the_first_piece  # type: ignore[method-assign]
    side.provider = side.make_provider()
    samples: list[float] = []
    try:
        for number in range(cfg.warmup + cfg.repeats):
            pieces.clear()
            first = await side.turn(uuid.uuid4().hex[:12])
            if number >= cfg.warmup:
                samples.append((first - pieces[0]) / 1e3)
    finally:
        StreamedReply._content = content  # type: ignore[method-assign]
        await side.close()
    return samples


async def first_turn(side: Side, build: Callable[[], Any], warm: bool, tag: str) -> float:
    """A session's first turn, SPEAKING_S after the provider is built: turn start → first chunk (ms)."""
    side.provider = build()
    try:
        if warm:
            await asyncio.sleep(0.2)  # the user starts speaking
            asyncio.create_task(side.provider.warm())
            await asyncio.sleep(SPEAKING_S - 0.2)
        else:
            await asyncio.sleep(SPEAKING_S)
        t0 = now_ns()
        return ms(await side.turn(tag) - t0)
    finally:
        await side.close()


async def scenario_first_turn(cfg, binary: Path, upstream: servers.UpstreamProcess, has_warm: bool) -> dict[str, Any]:
    spec = servers.make_spec(n=5, size=5, interval=PACE_MS)
    pair = sides(binary, upstream.base_url, spec, with_tools=False)
    caal, worker = pair["caal"], pair["worker"]
    loop = asyncio.get_running_loop()
    variants: list[tuple[str, Side, Callable[[], Any], bool]] = [
        ("caal", caal, caal.make_provider, False),
        # Built outside the event loop, the provider starts its worker at the first call, as before issue 12.
        ("worker_lazy", worker, lambda: loop.run_in_executor(None, worker.make_provider), False),
        ("worker", worker, worker.make_provider, False),
    ]
    if has_warm:
        variants.append(("worker_warm", worker, worker.make_provider, True))
    samples: dict[str, list[float]] = {name: [] for name, *_ in variants}
    for number in range(1 + cfg.repeats_slow):
        for name, side, build, warm in variants:
            if name == "worker_lazy":
                provider = await build()
                value = await first_turn(side, lambda: provider, warm, uuid.uuid4().hex[:12])
            else:
                value = await first_turn(side, build, warm, uuid.uuid4().hex[:12])
            if number:  # the first session of the process is discarded (imports, caches)
                samples[name].append(value)
    return samples


async def timed_turn(side: Side) -> float:
    t0 = now_ns()
    return ms(await side.turn(uuid.uuid4().hex[:12]) - t0)


async def after_idle(side: Side, warm: bool) -> tuple[float, float]:
    """Turn start → first chunk (ms) of a turn right after another, then of one after IDLE_S of silence
    (warm: told SPEAKING_S before that turn)."""
    await side.turn(uuid.uuid4().hex[:12])
    steady = await timed_turn(side)
    if warm:
        await asyncio.sleep(IDLE_S - SPEAKING_S)
        asyncio.create_task(side.provider.warm())
        await asyncio.sleep(SPEAKING_S)
    else:
        await asyncio.sleep(IDLE_S)
    return steady, await timed_turn(side)


async def scenario_idle(cfg, binary: Path, idle_upstream: servers.UpstreamProcess, has_warm: bool) -> dict[str, Any]:
    spec = servers.make_spec(n=5, size=5, interval=PACE_MS)
    names = ["caal", "worker"] + (["worker_warm"] if has_warm else [])
    samples: dict[str, dict[str, list[float]]] = {"steady": {name: [] for name in names}, "idle": {name: [] for name in names}}
    for number in range(cfg.repeats_slow):
        log(f"turn after {IDLE_S:.0f} s idle: round {number + 1} of {cfg.repeats_slow}")
        runs = {name: sides(binary, idle_upstream.base_url, spec, with_tools=False)[name.split("_")[0]] for name in names}
        for side in runs.values():
            side.provider = side.make_provider()
        try:
            # Side by side, 0.5 s apart, so that their turns do not overlap.
            async def staggered(index: int, name: str) -> tuple[float, float]:
                await asyncio.sleep(0.5 * index)
                return await after_idle(runs[name], warm=name == "worker_warm")

            values = await asyncio.gather(*(staggered(i, name) for i, name in enumerate(names)))
            for name, (steady, idle) in zip(names, values):
                samples["steady"][name].append(steady)
                samples["idle"][name].append(idle)
        finally:
            for side in runs.values():
                await side.close()
    return samples


# =====================================================================================================
# Report
# =====================================================================================================

def fmt(value: float | None) -> str:
    return "—" if value is None else report.fmt(value, "ms")


def render(results: dict[str, Any], meta: dict[str, Any]) -> str:
    out: list[str] = []
    if "skipped" in results:
        out.append(f"skipped: {results['skipped']}")
    chunk = results.get("first_chunk")
    if chunk:
        table = [["case (server: 40 ms per token)", "CAAL llm_node + in-process provider", "new llm_node + WorkerProvider",
                  "CAAL/new", "target: new ≤ first token + 5 ms", "met"]]
        for key, label, *_ in FIRST_CHUNK_CASES:
            m = {name: median(values) for name, values in chunk[key].items()}
            met = m["worker"] <= 5.0
            table.append([label, fmt(m["caal"]), fmt(m["worker"]), report.fmt_ratio(report.ratio(m["caal"], m["worker"])),
                          "≤ 5 ms", "yes" if met else "NO"])
        out.append("First chunk of a turn, in ms after the server's first content token of the answer (medians)\n")
        out.append(report.markdown_table(table))
        completion = ", ".join(f"{label}: {fmt(chunk[key + '_completion_ms'])} ms" for key, label, *_ in FIRST_CHUNK_CASES)
        out.append(f"\nthe answer's first to last token at the server — {completion}")
        overhead = chunk.get("loop_overhead_us")
        if overhead:
            out.append(f"the streamed loop's own share (the provider's first piece → the loop's first chunk): "
                       f"median {median(overhead):.0f} µs, max {max(overhead):.0f} µs")
    names = [("caal", "CAAL in-process provider"), ("worker_lazy", "worker started at the first call (before)"),
             ("worker", "worker started when built"), ("worker_warm", "worker + warm")]
    labels = (("first_turn", f"a session's first turn ({SPEAKING_S:.0f} s after the provider is built)"),
              ("steady", "a turn right after another (its connection open)"),
              ("idle", f"a turn after {IDLE_S:.0f} s idle; the server closes idle connections after {SERVER_IDLE_CLOSE_S:.0f} s"))
    rows = [(key, label) for key, label in labels if key in results]
    if rows:
        table = [["turn start → first chunk (ms, medians)"] + [label for _, label in names]]
        for key, label in rows:
            table.append([label] + [fmt(median(results[key].get(name, []))) for name, _ in names])
        out.append("\nFirst chunk of a turn, in ms after the turn started; the server answers at once, 40 ms per token\n")
        out.append(report.markdown_table(table))
        if results.get("no_warm"):
            out.append(f"\nworker + warm: {results['no_warm']}")
    out.append(f"\nmachine: {meta['cores']} cores, load average {meta['load_before']} before / {meta['load_after']} after; "
               f"Python {meta['python']}; worker {meta['commit']}; {meta['elapsed_s']:.0f} s")
    return "\n".join(out)


# =====================================================================================================
# Main
# =====================================================================================================

def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout (the tables go to stderr)")
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--only", default="", help="comma-separated scenarios: first_chunk,first_turn,idle")
    p.add_argument("--repeats", type=int, default=None, help="repeats of each first-chunk case (default 15, 5 with --quick)")
    p.add_argument("--binary", default=None, help="measure this worker binary instead of building one")
    p.add_argument("--no-build", action="store_true", help="use the binary in .build-bench without running swift build")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--idle-close", type=float, default=0.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.repeats = args.repeats or (5 if args.quick else 15)
    args.warmup = 1 if args.quick else 2
    args.repeats_slow = 2 if args.quick else 5
    return args


async def run(cfg, binary: Path, only: Callable[[str], bool], results: dict[str, Any]) -> None:
    has_warm = await worker_has_warm(binary)
    if not has_warm:
        results["no_warm"] = "skipped: this worker has no `warm` method (rpc.discover does not list it)"
    upstream = servers.UpstreamProcess([str(SCRIPT), "--serve"])
    idle_upstream = servers.UpstreamProcess([str(SCRIPT), "--serve", "--idle-close", str(SERVER_IDLE_CLOSE_S)])
    try:
        if only("first_chunk"):
            results["first_chunk"] = await scenario_first_chunk(cfg, binary, upstream)
            results["first_chunk"]["loop_overhead_us"] = await scenario_loop_overhead(cfg, binary, upstream)
        if only("first_turn"):
            log("a session's first turn")
            results["first_turn"] = await scenario_first_turn(cfg, binary, upstream, has_warm)
        if only("idle"):
            results.update(await scenario_idle(cfg, binary, idle_upstream, has_warm))
    finally:
        upstream.close()
        idle_upstream.close()


def main(argv: list[str]) -> None:
    cfg = parse_args(argv)
    if cfg.serve:
        from loop_upstream import LoopUpstreamConnection

        LoopUpstreamConnection.idle_close_s = cfg.idle_close
        servers.serve(cfg.port, LoopUpstreamConnection)
        return
    problem = bootstrap()
    started = time.monotonic()
    meta = {"cores": os.cpu_count(), "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(), "commit": bench.git_commit()}
    results: dict[str, Any] = {}
    if problem is not None:
        results["skipped"] = f"every row: {problem}"
    else:
        for name in ("caal", "caal_llm_worker"):
            logging.getLogger(name).setLevel(logging.ERROR)  # "No tools discovered", on purpose here
        binary = bench.ensure_binary(cfg)
        meta["binary"] = str(binary)
        selected = {s for s in cfg.only.split(",") if s}
        asyncio.run(run(cfg, binary, lambda name: not selected or name in selected, results))
    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed_s"] = time.monotonic() - started
    report = render(results, meta)
    if cfg.json:
        print(report, file=sys.stderr)
        print(json.dumps({"meta": meta, "results": results}, indent=2))
    else:
        print(report)


if __name__ == "__main__":
    main(sys.argv[1:])
