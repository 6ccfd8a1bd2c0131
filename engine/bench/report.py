"""The bench table: each figure beside its target, pass/fail, and the machine it ran on."""

from __future__ import annotations

import math

from engine.bench.targets import TARGETS


def _fmt(value: float | None) -> str:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def table(res: dict) -> str:
    """A Markdown table (also readable in a terminal) with a header line about the run."""
    m, model = res.get("machine", {}), res.get("model", {})
    lines = [
        f"foley-engine bench{' --quick' if res.get('quick') else ''}: {res.get('segments', 0):,} segments; "
        f"model {model.get('id', '?')} ({model.get('note', '')})",
        f"machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, load {m.get('load_avg_1m', float('nan')):.1f} at start "
        f"/ {m.get('load_avg_1m_end', float('nan')):.1f} at end, torch {m.get('torch', '?')} ({m.get('torch_threads', '?')} threads)",
        "",
        "| figure | key | measured | target | result | wall clock here |",
        "|---|---|---|---|---|---|",
    ]
    for t in TARGETS:
        ok = res.get("pass", {}).get(t.key, t.passes(res.get(t.key)))
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        unit = t.unit if _fmt(res.get(t.key)) != "n/a" else ""
        wall = res.get("wall", {}).get(t.key)
        wall_text = f"{_fmt(wall)}{t.unit}" if wall is not None else ""
        lines.append(f"| {t.label} | `{t.key}` | {_fmt(res.get(t.key))}{unit} | {t.text} | {verdict} | {wall_text} |")
    if res.get("wall"):
        lines.append("\nLatencies are CPU time of the one inference thread (= latency on an idle core); "
                     "the last column is wall-clock time on this machine at its current load.")
    for name, err in res.get("errors", {}).items():
        lines.append(f"\nerror in {name}: {err}")
    return "\n".join(lines)
