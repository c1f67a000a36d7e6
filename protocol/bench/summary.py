"""The summary under bench.py's table: the socket transport against the targets of issue 14, and the rows it loses
to URLSession."""

from __future__ import annotations

from typing import Any

from clients import NO_HTTP
from report import COLUMN_NAMES, Row, below, fmt, ratio


def socket_summary(rows: list[Row], results: dict[str, Any]) -> list[str]:
    """The socket transport against the targets of issue 14, each met or not with its figures, and the rows it
    loses to URLSession."""
    by_key = {row.key: row for row in rows}
    lines = ["Socket transport against the targets of issue 14:"]
    transports = results.get("transports") or {}
    if transports and all(value is None for value in transports.values()):
        lines.append("- NOTE: configure's answer reports no `transport`: this worker ignores the setting, so both worker "
                     "columns measured URLSession and the comparison below says nothing about the socket transport.")
    elif transports:
        lines.append("- configure's answer (effective_transport): " + "; ".join(f"{COLUMN_NAMES[k]} column: {v}"
                                                                             for k, v in transports.items()))
        for kind, value in transports.items():
            if value != kind:
                lines.append(f"- NOTE: the {COLUMN_NAMES[kind]} column's requests went over {value}, not {kind}.")

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "NOT met")

    parts = []
    for key, what in (("ttft", "kept-alive"), ("first", "a session's first request"), ("idle", "after an idle close")):
        row = by_key.get(key)
        if row is None:
            continue
        s, floor = row.values.get("socket"), row.values.get("aiohttp")
        ok = None if s is None or floor is None else s - floor <= 0.3
        figures = "" if ok is None else f" ({fmt(s, 'ms')} vs {fmt(floor, 'ms')} ms, {s - floor:+.2f} ms"
        no_http = row.values.get(NO_HTTP)
        if figures and no_http is not None:
            figures += f"; the worker without HTTP, mock provider: {no_http - floor:+.2f} ms"
        figures += ")" if figures else ""
        parts.append(f"{what}: {verdict(ok)}{figures}")
    if parts:
        lines.append("- time to first token ≤ aiohttp + 0.3 ms: " + "; ".join(parts))
    parts = []
    for key in ("throughput", "throughput_other"):
        row = by_key.get(key)
        if row is None:
            continue
        r = row.ratios()["socket_vs_aiohttp"]
        ok = None if r is None else r <= 1.3
        how = row.label.split("(")[1].split(")")[0]
        figures = "" if r is None else f" ({r:.2f}×: {fmt(row.values['socket'], 'ms')} vs {fmt(row.values['aiohttp'], 'ms')} ms)"
        parts.append(f"{how}: {verdict(ok)}{figures}")
    if parts:
        lines.append("- 2,000 deltas ≤ 1.3× aiohttp: " + "; ".join(parts))
    row = by_key.get("c256_peak_rss_instant")
    if row is not None:
        value = row.values.get("socket")
        lines.append(f"- instant-burst peak RSS of {row.label.split(' streams')[0]} streams < 80 MB: {verdict(below(value, 80))}"
                     + ("" if value is None else f" ({fmt(value, 'MB')} MB; URLSession {fmt(row.values.get('urlsession'), 'MB')} MB)"))
    compared = [row for row in rows if row.socket_loses() is not None]
    lost = [row for row in compared if row.socket_loses()]
    if compared:
        lines.append(f"- better than URLSession on every row: {verdict(not lost)} "
                     f"(socket as good or better on {len(compared) - len(lost)} of {len(compared)} rows compared)")
    for row in lost:
        s, u = row.values["socket"], row.values["urlsession"]
        worse = ratio(u - s, s) if row.higher_better else ratio(s - u, u)
        by = "" if worse is None else f", {worse:.0%} worse"
        rounds = row.socket_worse_rounds()
        if rounds is None:
            why = "one figure per column, no rounds to tell a difference from noise"
        else:
            w, n, p = rounds
            why = (f"worse in {w} of {n} rounds, sign test p = {p:.2g}: "
                   + ("a real difference" if p < 0.05 else "not distinguishable from noise"))
        lines.append(f"  - loses: {row.label}: socket {fmt(s, row.unit)} vs URLSession {fmt(u, row.unit)} {row.unit}{by} ({why})")
    return lines
