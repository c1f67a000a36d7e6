"""The table: one row per measured quantity, the columns, the ratios and the targets of issues 7 and 14."""

from __future__ import annotations

import math
from typing import Any, Callable

from clients import NO_HTTP, WORKER_KINDS
from measure import median

COLUMN_NAMES = {"socket": "worker socket", "urlsession": "worker URLSession", "openai": "openai SDK", "aiohttp": "aiohttp"}
SHORT_NAMES = {"socket": "socket", "urlsession": "URLSession"}
COLUMN_LABELS = {**{kind: f"{name} column" for kind, name in COLUMN_NAMES.items()}, "all": "every column",
                 NO_HTTP: "worker without HTTP (mock provider)"}


class Row:
    """One measured quantity. Lower is better unless `higher_better`; `met` says, for each worker column, whether it
    meets the row's target; `compare` is False where both worker columns share one measurement."""

    def __init__(self, key: str, label: str, unit: str, values: dict[str, float | None], *, target: str = "",
                 met: dict[str, bool | None] | None = None, higher_better: bool = False, compare: bool = True,
                 scenario: str | None = None, samples: dict[str, list[float]] | None = None, note: str = "") -> None:
        self.key, self.label, self.unit, self.values = key, label, unit, values
        self.target, self.met, self.higher_better, self.compare = target, met or {}, higher_better, compare
        self.scenario = scenario or key
        self.samples = samples or {}
        self.note = note
        self.failed: dict[str, str] = {}  # column -> why it has no value

    def ratios(self) -> dict[str, float | None]:
        v = self.values.get
        sdk = ratio(v("socket"), v("openai")) if self.higher_better else ratio(v("openai"), v("socket"))
        return {"sdk_vs_socket": sdk, "socket_vs_aiohttp": ratio(v("socket"), v("aiohttp")),
                "urlsession_vs_aiohttp": ratio(v("urlsession"), v("aiohttp")),
                "socket_vs_urlsession": ratio(v("socket"), v("urlsession"))}

    def socket_loses(self) -> bool | None:
        """Whether the socket column is worse than the URLSession one here; None when not compared."""
        s, u = self.values.get("socket"), self.values.get("urlsession")
        if not self.compare or s is None or u is None:
            return None
        if fmt(s, self.unit) == fmt(u, self.unit):
            return False  # the same figure in the table
        return s < u if self.higher_better else s > u

    def socket_worse_rounds(self) -> tuple[int, int, float] | None:
        """Rounds in which the socket column did worse than the URLSession one (measured side by side in the same
        round), rounds with a difference, and the two-sided sign test's p that the two are alike; None without
        rounds to pair."""
        pairs = list(zip(self.samples.get("socket", []), self.samples.get("urlsession", [])))
        differing = [(s, u) for s, u in pairs if s != u]
        if not differing:
            return None
        worse = sum(1 for s, u in differing if (s < u if self.higher_better else s > u))
        n = len(differing)
        tail = sum(math.comb(n, k) for k in range(min(worse, n - worse) + 1)) / 2 ** n
        return worse, n, min(1.0, 2 * tail)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "scenario": self.label, "unit": self.unit,
                **{kind: self.values.get(kind) for kind in COLUMN_NAMES}, **self.ratios(),
                "higher_is_better": self.higher_better, "target": self.target, "met": self.met, "note": self.note,
                "failed": self.failed, "samples": {k: [round(v, 4) for v in vs] for k, vs in self.samples.items()}}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "deltas/s":
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def fmt_met(met: dict[str, bool | None]) -> str:
    if not met:
        return "—"
    return " / ".join("—" if met.get(kind) is None else ("yes" if met[kind] else "NO") for kind in WORKER_KINDS)


RATIO_HEADERS = {"sdk_vs_socket": "SDK/socket", "socket_vs_aiohttp": "socket/aiohttp",
                 "urlsession_vs_aiohttp": "URLSession/aiohttp", "socket_vs_urlsession": "socket/URLSession"}


def render(rows: list[Row], meta: dict[str, Any], summary: list[str]) -> str:
    """The table, its notes, the summary lines and the machine it ran on."""
    header = ["scenario", "unit", *COLUMN_NAMES.values(), *RATIO_HEADERS.values(), "target", "met (socket / URLSession)"]
    table = [header]
    for row in rows:
        if row.key.startswith("failed_"):
            continue  # said below the table, with its reason
        cells = ["failed" if kind in row.failed or "all" in row.failed else fmt(row.values.get(kind), row.unit) for kind in COLUMN_NAMES]
        ratios = row.ratios()
        table.append([row.label, row.unit, *cells, *(fmt_ratio(ratios[key]) for key in RATIO_HEADERS), row.target or "—",
                      fmt_met(row.met)])
    notes = [f"- {row.label}: {row.note}" for row in rows if row.note]
    out = markdown_table(table)
    if notes:
        out += "\n\n" + "\n".join(notes)
    out += "\n\n" + "\n".join(summary)
    out += (f"\n\nmachine: {meta['cores']} cores, load average {meta['load_before']} before / {meta['load_after']} after; "
            f"Python {meta['python']}; worker "
            + (f"binary {meta['binary']} (bench {meta['commit']})" if meta.get("binary_given") else meta["commit"])
            + f"; {meta['elapsed_s']:.0f} s")
    return out


def markdown_table(table: list[list[str]]) -> str:
    """The rows (the first one the header) as an aligned Markdown table."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) + " |" for r in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def below(value: float | None, limit: float) -> bool | None:
    """Whether a measured value is under its target; None when it was not measured (its column failed)."""
    return None if value is None else value < limit


def both(*checks: bool | None) -> bool | None:
    """All of a target's checks: None when one could not be made, so an unmeasured column is never 'met'."""
    return None if any(check is None for check in checks) else all(checks)


def per_worker(values: dict[str, float | None], check: Callable[[float], bool | None]) -> dict[str, bool | None]:
    """A target's verdict for each worker column measured."""
    return {kind: (None if values.get(kind) is None else check(values[kind])) for kind in WORKER_KINDS if kind in values}


def build_rows(results: dict[str, Any], cfg) -> list[Row]:
    rows = scenario_rows(results, cfg)
    failed: dict[str, dict[str, str]] = results.get("failed", {})
    for row in rows:
        row.failed.update(failed.get(row.scenario, {}))
    for scenario, columns in failed.items():
        for kind, reason in columns.items():
            rows.append(Row(f"failed_{scenario}_{kind}", f"{scenario}: {COLUMN_LABELS.get(kind, kind)} failed", "",
                            {}, note=reason))
    return rows


# ------------------------------------------------------------------------------------- the rows


def scenario_rows(results: dict[str, Any], cfg) -> list[Row]:
    rows: list[Row] = []
    med = lambda samples: {k: median(v) for k, v in samples.items() if v}  # noqa: E731
    workers = [kind for kind in results.get("columns", WORKER_KINDS) if kind in WORKER_KINDS]

    if "startup" in results:
        s = results["startup"]
        m = {**{kind: median(s["worker"]) for kind in workers if s.get("worker")}, **med({k: s[k] for k in ("openai", "aiohttp") if k in s})}
        rows.append(Row("startup", "start-up: spawn → first ping answered (SDK: python -c 'import openai')", "ms", m,
                        target="≥25× faster than import openai; <20 ms", compare=False, samples=s,
                        met=per_worker(m, lambda v: both(v < 20, True if m.get("openai") is None else m["openai"] / v >= 25)),
                        note="one measurement for both worker columns (the transport is chosen by configure, after start-up); "
                        "aiohttp column: python -c 'import aiohttp'"))
    ttft_rows = (("ttft", "time to first token (instant server, kept-alive connection)", ""),
                 ("first", "time to first token of a session's first request (connection set-up included)",
                  "a new client for every request, nothing sent before it; worker: spawned and configured first, the clock "
                  "starts when the chat request is sent right after configure's answer, so configure's background pre-open "
                  "(GET /models on a new connection) is still under way and the request waits for it and uses its connection"),
                 ("idle", f"time to first token after a server-side idle close ({cfg.idle_close_s:g} s idle close, "
                  f"{cfg.idle_wait_s:g} s wait)",
                  "a server of its own closes any connection idle for "
                  f"{cfg.idle_close_s:g} s; each client sends one request, waits {cfg.idle_wait_s:g} s, then asks again"))
    for key, label, note in ttft_rows:
        if key not in results:
            continue
        s = results[key]
        m = med(s)
        gaps = ", ".join(f"{SHORT_NAMES[k]} − aiohttp = {m[k] - m['aiohttp']:+.2f} ms" for k in workers if k in m and "aiohttp" in m)
        if NO_HTTP in m:
            floor = f" ({m[NO_HTTP] - m['aiohttp']:+.2f} ms against aiohttp)" if "aiohttp" in m else ""
            gaps += (f"; the worker without HTTP (mock provider, the same pipe and Python client, measured in the same "
                     f"rounds): {fmt(m[NO_HTTP], 'ms')} ms{floor}")
        met = per_worker(m, lambda v: both(True if m.get("openai") is None else v <= m["openai"],
                                           True if m.get("aiohttp") is None else v - m["aiohttp"] <= 0.3))
        rows.append(Row(key, label, "ms", m, target="≤ openai SDK; ≤ aiohttp + 0.3 ms", met=met, samples=s,
                        note="; ".join(part for part in (gaps, note) if part)))
    for key in ("throughput", "throughput_other"):
        if key not in results:
            continue
        s = results[key]
        m = med(s)
        met = per_worker(m, lambda v: both(True if m.get("openai") is None else m["openai"] / v >= 8,
                                           True if m.get("aiohttp") is None else v / m["aiohttp"] <= 1.3))
        mode = results[key + "_mode"]
        note = (f"server alone (raw socket reading the whole answer, no parsing): {results[key + '_server_floor_ms']:.2f} ms; "
                f"the server's own write time {results[key + '_server_send_ms']:.2f} ms")
        how = "one write per event" if mode == "each" else "whole answer in one write"
        rows.append(Row(key, f"{cfg.deltas:,} deltas ({how}), end to end until the final result", "ms", m,
                        target="≥8× faster than SDK; ≤1.3× aiohttp", met=met, samples=s, note=note))
    if "concurrency" in results:
        rows += concurrency_rows(results["concurrency"], cfg)
    if "cancel" in results:
        s = results["cancel"]
        m = med(s)
        rows.append(Row("cancel", "cancel → upstream connection closed (at the server), p50", "ms", m,
                        target="< 10 ms", met=per_worker(m, lambda v: v < 10), samples=s,
                        note="SDK: AsyncStream.close(); aiohttp: response.close()"))
    if "reconnect" in results:
        rows += reconnect_rows(results["reconnect"], cfg)
    if "memory" in results:
        rows += memory_rows(results["memory"], cfg)
    return rows


def concurrency_rows(c: dict[str, Any], cfg) -> list[Row]:
    rows: list[Row] = []
    get = lambda key: {k: v.get(key) for k, v in c.items()}  # noqa: E731
    rounds = lambda key, scale=1.0: {k: [r[key] * scale for r in v["rounds"] if r.get(key)] for k, v in c.items()}  # noqa: E731
    rows.append(Row("c256_throughput", f"{cfg.streams} concurrent streams × {cfg.c_instant} deltas, instant: throughput",
                    "deltas/s", get("throughput"), higher_better=True, scenario="concurrency", samples=rounds("throughput"),
                    note=f"higher is better; every ratio here is the first column ÷ the second; the median of {cfg.c_rounds} "
                    f"rounds, a new child process per column and round, the columns in turn (so on every {cfg.streams}-stream row)"))
    for p in ("p50", "p99"):
        steady = get(f"steady_{p}")
        rows.append(Row(f"c256_latency_{p}", f"{cfg.streams} streams at {1000 / cfg.interval:.0f} deltas/s each: added latency per delta, {p}",
                        "ms", get(f"latency_{p}"), scenario="concurrency", samples=rounds(f"latency_{p}"),
                        note="once all streams have started (deltas sent 0.5 s or more into the round): "
                        + ", ".join(f"{COLUMN_NAMES.get(k, k)} {fmt(v, 'ms')} ms" for k, v in steady.items())))
    for phase, label in (("paced", "paced"), ("instant", "instant burst")):
        peak = {k: (v / 1024 if v else None) for k, v in get(f"peak_rss_{phase}_kib").items()}
        rows.append(Row(f"c256_peak_rss_{phase}", f"{cfg.streams} streams, {label}: peak RSS of the worker (Python columns: the client process)",
                        "MB", peak, target="worker < 80 MB", met=per_worker(peak, lambda v: v < 80), scenario="concurrency",
                        samples=rounds(f"peak_rss_{phase}_kib", 1 / 1024),
                        note="" if phase == "paced" else f"the highest of the {cfg.c_rounds} rounds (every peak RSS row)"))
    return rows


def reconnect_rows(r: dict[str, dict[str, list[float]]], cfg) -> list[Row]:
    m = {kind: {key: median(values) for key, values in samples.items()} for kind, samples in r.items()}
    column = lambda key: {kind: values[key] for kind, values in m.items()}  # noqa: E731
    wait = f"{cfg.reconnect_wait_ms / 1000:g} s"
    recover = column("recover_ms")
    rows = [Row("reconnect", "kept-alive connection reset under a request → its answer", "ms", recover,
                target="< 100 ms", met=per_worker(recover, lambda v: v < 100),
                samples={kind: samples["recover_ms"] for kind, samples in r.items()},
                note="sent again, whole, on a new connection (not waiting for first_token_timeout_s)")]
    for row_key, key, label, limit, note in (
            ("reconnect_cpu", "recover_cpu_ms", "… worker CPU meanwhile", 100, ""),
            ("wait_reused_cpu", "wait_reused_cpu_ms", f"worker CPU while waiting {wait} for a first token, kept-alive connection", 50, ""),
            ("wait_new_cpu", "wait_new_cpu_ms", f"worker CPU while waiting {wait} for a first token, new connection", None,
             "URLSession: Foundation on Linux keeps waking up on a connection it had to wait to write to (PROTOCOL.md §9.1)")):
        values = column(key)
        rows.append(Row(row_key, label, "ms", values, scenario="reconnect", note=note,
                        samples={kind: samples[key] for kind, samples in r.items()},
                        target="" if limit is None else f"< {limit} ms",
                        met=None if limit is None else per_worker(values, lambda v, limit=limit: v < limit)))
    return rows


def memory_rows(mem: dict[str, Any], cfg) -> list[Row]:
    idle = {k: v["idle_rss_kib"] / 1024 for k, v in mem.items()}
    warm = {k: v["warm_rss_kib"] / 1024 for k, v in mem.items()}
    final = {k: v["final_rss_kib"] / 1024 for k, v in mem.items()}
    growth = {k: final[k] - warm[k] for k in final}
    return [Row("idle_rss", "idle RSS after start-up and one request", "MB", idle, scenario="memory"),
            Row("rss_after", f"RSS after {cfg.mem_requests:,} streamed requests", "MB", final, scenario="memory",
                target=f"no growth (≤ {cfg.mem_growth_mb:g} MB over RSS after the first {cfg.mem_warm:,})",
                met={k: growth[k] <= cfg.mem_growth_mb + 1e-9 for k in WORKER_KINDS if k in growth},
                note="growth from request {0:,} to {1:,}: ".format(cfg.mem_warm, cfg.mem_requests)
                + ", ".join(f"{COLUMN_NAMES.get(k, k)} {g:+.1f} MB" for k, g in growth.items()))]
