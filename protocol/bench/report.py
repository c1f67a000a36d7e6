"""The table: one row per measured quantity, the three columns, the ratios and the targets of issue 7."""

from __future__ import annotations

from typing import Any

from measure import median


class Row:
    def __init__(self, key: str, label: str, unit: str, values: dict[str, float | None], *, target: str = "",
                 met: bool | None = None, ratio_sdk: float | None = None, ratio_floor: float | None = None,
                 samples: dict[str, list[float]] | None = None, note: str = "") -> None:
        self.key, self.label, self.unit, self.values = key, label, unit, values
        self.target, self.met, self.ratio_sdk, self.ratio_floor = target, met, ratio_sdk, ratio_floor
        self.samples = samples or {}
        self.note = note
        self.failed: dict[str, str] = {}  # column -> why it has no value

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "scenario": self.label, "unit": self.unit, "worker": self.values.get("worker"),
                "openai": self.values.get("openai"), "aiohttp": self.values.get("aiohttp"),
                "worker_vs_openai": self.ratio_sdk, "worker_vs_aiohttp": self.ratio_floor,
                "target": self.target, "met": self.met, "note": self.note, "failed": self.failed,
                "samples": {k: [round(v, 4) for v in vs] for k, vs in self.samples.items()}}


COLUMN_NAMES = {"worker": "worker", "openai": "openai SDK", "aiohttp": "aiohttp"}
COLUMN_LABELS = {**{kind: f"{name} column" for kind, name in COLUMN_NAMES.items()}, "all": "every column"}


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


def render(rows: list[Row], meta: dict[str, Any]) -> str:
    header = ["scenario", "unit", "worker", "openai SDK", "aiohttp", "SDK/worker", "worker/aiohttp", "target", "met"]
    table = [header]
    for row in rows:
        if row.key.startswith("failed_"):
            continue  # said below the table, with its reason
        met = "—" if row.met is None else ("yes" if row.met else "NO")
        cells = ["failed" if kind in row.failed or "all" in row.failed else fmt(row.values.get(kind), row.unit) for kind in COLUMN_NAMES]
        table.append([row.label, row.unit, *cells, fmt_ratio(row.ratio_sdk), fmt_ratio(row.ratio_floor),
                      row.target or "—", met])
    notes = [f"- {row.label}: {row.note}" for row in rows if row.note]
    out = markdown_table(table)
    if notes:
        out += "\n\n" + "\n".join(notes)
    out += (f"\n\nmachine: {meta['cores']} cores, load average {meta['load_before']} before / {meta['load_after']} after; "
            f"Python {meta['python']}; worker {meta['commit']}; {meta['elapsed_s']:.0f} s")
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


def build_rows(results: dict[str, Any], cfg) -> list[Row]:
    rows = scenario_rows(results, cfg)
    failed: dict[str, dict[str, str]] = results.get("failed", {})
    for row in rows:
        for scenario, columns in failed.items():
            if row.key == scenario or row.key.startswith(scenario.replace("concurrency", "c256") + "_"):
                row.failed.update(columns)
    for scenario, columns in failed.items():
        for kind, reason in columns.items():
            rows.append(Row(f"failed_{scenario}_{kind}", f"{scenario}: {COLUMN_LABELS.get(kind, kind)} failed", "",
                            {}, note=reason))
    return rows


def scenario_rows(results: dict[str, Any], cfg) -> list[Row]:
    rows: list[Row] = []
    med = lambda samples: {k: median(v) for k, v in samples.items() if v}  # noqa: E731

    if "startup" in results:
        s = results["startup"]
        m = med(s)
        r = ratio(m.get("openai"), m.get("worker"))
        met = below(m.get("worker"), 20) and (r is None or r >= 25)
        rows.append(Row("startup", "start-up: spawn → first ping answered (SDK: python -c 'import openai')", "ms", m,
                        target="≥25× faster than import openai; <20 ms", met=met, ratio_sdk=r,
                        ratio_floor=ratio(m.get("worker"), m.get("aiohttp")), samples=s,
                        note="aiohttp column: python -c 'import aiohttp'"))
    if "ttft" in results:
        s = results["ttft"]
        m = med(s)
        gap = m["worker"] - m["aiohttp"] if "aiohttp" in m and "worker" in m else None
        met = (m.get("openai") is None or below(m.get("worker"), m["openai"] + 1e-9)) and (gap is None or gap <= 0.3)
        rows.append(Row("ttft", "time to first token (instant server)", "ms", m,
                        target="≤ openai SDK; ≤ aiohttp + 0.3 ms", met=met, ratio_sdk=ratio(m.get("openai"), m.get("worker")),
                        ratio_floor=ratio(m.get("worker"), m.get("aiohttp")), samples=s,
                        note="" if gap is None else f"worker − aiohttp = {gap:+.2f} ms"))
    for key in ("throughput", "throughput_other"):
        if key not in results:
            continue
        s = results[key]
        m = med(s)
        r_sdk = ratio(m.get("openai"), m.get("worker"))
        r_floor = ratio(m.get("worker"), m.get("aiohttp"))
        met = (r_sdk is None or r_sdk >= 8) and (r_floor is None or r_floor <= 1.3)
        mode = results[key + "_mode"]
        note = (f"server alone (raw socket reading the whole answer, no parsing): {results[key + '_server_floor_ms']:.2f} ms; "
                f"the server's own write time {results[key + '_server_send_ms']:.2f} ms")
        how = "one write per event" if mode == "each" else "whole answer in one write"
        rows.append(Row(key, f"{cfg.deltas:,} deltas ({how}), end to end until the final result", "ms", m,
                        target="≥8× faster than SDK; ≤1.3× aiohttp", met=met, ratio_sdk=r_sdk, ratio_floor=r_floor,
                        samples=s, note=note))
    if "concurrency" in results:
        c = results["concurrency"]
        get = lambda key: {k: v.get(key) for k, v in c.items()}  # noqa: E731
        tp = get("throughput")
        rows.append(Row("c256_throughput", f"{cfg.streams} concurrent streams × {cfg.c_instant} deltas, instant: throughput",
                        "deltas/s", tp, ratio_sdk=ratio(tp.get("worker"), tp.get("openai")),
                        ratio_floor=ratio(tp.get("worker"), tp.get("aiohttp")),
                        note="higher is better; ratios here are worker ÷ other"))
        for p in ("p50", "p99"):
            lat = get(f"latency_{p}")
            steady = get(f"steady_{p}")
            rows.append(Row(f"c256_latency_{p}", f"{cfg.streams} streams at {1000 / cfg.interval:.0f} deltas/s each: added latency per delta, {p}",
                            "ms", lat, ratio_sdk=ratio(lat.get("openai"), lat.get("worker")),
                            ratio_floor=ratio(lat.get("worker"), lat.get("aiohttp")),
                            note="once all streams have started (deltas sent 0.5 s or more into the round): "
                            + ", ".join(f"{k} {fmt(v, 'ms')} ms" for k, v in steady.items())))
        for phase, label in (("paced", "paced"), ("instant", "instant burst")):
            peak = {k: (v / 1024 if v else None) for k, v in get(f"peak_rss_{phase}_kib").items()}
            rows.append(Row(f"c256_peak_rss_{phase}", f"{cfg.streams} streams, {label}: peak RSS of the worker (Python columns: the client process)",
                            "MB", peak, target="worker < 80 MB", met=below(peak.get("worker"), 80),
                            ratio_sdk=ratio(peak.get("openai"), peak.get("worker")),
                            ratio_floor=ratio(peak.get("worker"), peak.get("aiohttp"))))
    if "cancel" in results:
        s = results["cancel"]
        m = med(s)
        rows.append(Row("cancel", "cancel → upstream connection closed (at the server), p50", "ms", m,
                        target="< 10 ms", met=below(m.get("worker"), 10), ratio_sdk=ratio(m.get("openai"), m.get("worker")),
                        ratio_floor=ratio(m.get("worker"), m.get("aiohttp")), samples=s,
                        note="SDK: AsyncStream.close(); aiohttp: response.close()"))
    if "reconnect" in results:
        m = {key: median(values) for key, values in results["reconnect"].items()}
        only_worker = lambda key: {"worker": m[key]}  # noqa: E731
        rows.append(Row("reconnect", "kept-alive connection reset under a request → its answer", "ms", only_worker("recover_ms"),
                        target="< 100 ms", met=m["recover_ms"] < 100, samples={"worker": results["reconnect"]["recover_ms"]},
                        note="sent again, whole, on a new connection (not waiting for first_token_timeout_s)"))
        rows.append(Row("reconnect_cpu", "… worker CPU meanwhile", "ms", only_worker("recover_cpu_ms"),
                        target="< 100 ms", met=m["recover_cpu_ms"] < 100))
        wait = f"{cfg.reconnect_wait_ms / 1000:g} s"
        rows.append(Row("wait_reused_cpu", f"worker CPU while waiting {wait} for a first token, kept-alive connection", "ms",
                        only_worker("wait_reused_cpu_ms"), target="< 50 ms", met=m["wait_reused_cpu_ms"] < 50))
        rows.append(Row("wait_new_cpu", f"worker CPU while waiting {wait} for a first token, new connection", "ms",
                        only_worker("wait_new_cpu_ms"),
                        note="Foundation on Linux keeps waking up on a connection it had to wait to write to (PROTOCOL.md §9.1)"))
    if "memory" in results:
        mem = results["memory"]
        idle = {k: v["idle_rss_kib"] / 1024 for k, v in mem.items()}
        warm = {k: v["warm_rss_kib"] / 1024 for k, v in mem.items()}
        final = {k: v["final_rss_kib"] / 1024 for k, v in mem.items()}
        rows.append(Row("idle_rss", "idle RSS after start-up and one request", "MB", idle,
                        ratio_sdk=ratio(idle.get("openai"), idle.get("worker")),
                        ratio_floor=ratio(idle.get("worker"), idle.get("aiohttp"))))
        growth = final["worker"] - warm["worker"] if "worker" in final else None
        rows.append(Row("rss_after", f"RSS after {cfg.mem_requests:,} streamed requests", "MB", final,
                        target=f"no growth (≤ {cfg.mem_growth_mb:g} MB over RSS after the first {cfg.mem_warm:,})",
                        met=below(growth, cfg.mem_growth_mb + 1e-9), ratio_sdk=ratio(final.get("openai"), final.get("worker")),
                        ratio_floor=ratio(final.get("worker"), final.get("aiohttp")),
                        note="growth from request {0:,} to {1:,}: ".format(cfg.mem_warm, cfg.mem_requests)
                        + ", ".join(f"{k} {final[k] - warm[k]:+.1f} MB" for k in final)))
    return rows
