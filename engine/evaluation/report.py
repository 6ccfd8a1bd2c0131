"""Markdown reports laid out like the paper's Table 1, and a side-by-side comparison of runs."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from engine.errors import EngineError

log = logging.getLogger(__name__)

EVAL_FILE = "eval.json"
REPORT_FILE = "eval.md"
KS = ("1", "5", "10")

ENCODER_NAMES = {"baseline": "baseline", "attention": "attention"}
PROJECTOR_NAMES = {"distance": "linear (distance FC)", "linear": "linear", "mlp": "nonlinear (2-layer MLP)"}
LOSS_NAMES = {"bce": "BCE", "bce_margin": "BCE+margin-contrastive", "infonce": "InfoNCE", "ntxent": "NT-Xent"}


class ReportError(EngineError):
    """An evaluation file is missing or unreadable."""


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100.0 * x:.1f}"


def _topk(block: dict | None, level: str) -> list[str]:
    sub = (block or {}).get(level)
    if not sub:
        return ["n/a"] * len(KS)
    return [_pct(sub["topk"].get(k)) for k in KS]


def _encoder(ev: dict) -> str:
    enc = ENCODER_NAMES.get(ev["model"]["encoder"], ev["model"]["encoder"])
    return f"fine-tuned {enc}" if ev.get("preset") == "ft" else enc


def render(ev: dict) -> str:
    """One evaluation as Markdown: (a) correlation accuracy, (b) top-k recommendation accuracy."""
    m = ev["model"]
    rec = ev["recommendation"]
    loss = LOSS_NAMES.get(m["loss"], m["loss"])
    proj = PROJECTOR_NAMES.get(m["projector"], m["projector"])
    name = ev.get("preset") or "-"
    lines = [
        f"# Evaluation of `{Path(ev['checkpoint']).name}` (model {ev['model_id']}, preset {name})",
        "",
        f"Data: `{ev['data']}` (fingerprint {ev['fingerprint']}), split `{ev['split']}`.",
        "",
        f"## (a) A-V correlation accuracy ({ev['correlation']['n_pairs']} balanced pairs)",
        "",
        "| Encoder | Loss | Acc (%) | ROC AUC (%, threshold-free) |",
        "|---|---|---|---|",
        f"| {_encoder(ev)} | {loss} | {_pct(ev['correlation']['accuracy'])} | {_pct(ev['correlation'].get('auc'))} |",
        "",
        f"## (b) Top-k recommendation accuracy ({rec['n_frames']} frames, search list of {rec['list_size']} clips, "
        f"{rec['per_video']} per video)",
        "",
        "| ID | Encoder | Projector | Loss function | Category-level acc (%) top-1 / 5 / 10 | Sample-level acc (%) top-1 / 5 / 10 | Median rank |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [
        (name, _encoder(ev), proj, loss, rec["model"]),
        (f"{name} + prior (w={rec.get('prior_weight', 0):g})", _encoder(ev), proj, loss, rec.get("model_with_prior")),
        ("image-blind", "-", "-", "typicality of training audio", rec["image_blind"]),
        ("chance", "-", "-", "uniform random ranking", rec["chance"]),
    ]
    for rid, enc, pr, lo, block in rows:
        if block is None:
            continue
        cat = " / ".join(_topk(block, "category"))
        smp = " / ".join(_topk(block, "sample"))
        lines.append(f"| {rid} | {enc} | {pr} | {lo} | {cat} | {smp} | {block['sample']['median_rank']:.1f} |")
    cat = rec["model"].get("category")
    if cat:
        recall = " / ".join(_pct(cat["recall"].get(k)) for k in KS)
        chance_recall = " / ".join(_pct(rec["chance"]["category"]["recall"].get(k)) for k in KS)
        lines += ["", f"Category recall@1/5/10 (%): model {recall}; chance {chance_recall} ({cat['n_categories']} categories)."]
    else:
        lines += ["", "Category-level accuracy needs labels (prepare with a labels CSV); this dataset has none."]
    return "\n".join(lines) + "\n"


def load_eval(path: Path) -> dict:
    """An ``eval.json``, from its path or from a run/evaluation folder holding one."""
    path = Path(path)
    candidates = [path] if path.suffix == ".json" else [path / EVAL_FILE, path / "eval" / EVAL_FILE]
    for p in candidates:
        if p.is_file():
            try:
                data = json.loads(p.read_text())
            except json.JSONDecodeError as exc:
                raise ReportError(f"{p}: not valid JSON ({exc}); re-run 'foley-engine evaluate'") from exc
            if data.get("format") != "foley-eval":
                raise ReportError(f"{p}: not an evaluation file written by 'foley-engine evaluate'")
            data["_source"] = str(p)
            return data
    raise ReportError(f"no {EVAL_FILE} in {path}; run 'foley-engine evaluate --checkpoint ... --out {path}' first")


def compare(paths: Sequence[Path]) -> str:
    """Several evaluations side by side (one row per run), in Table 1's column order."""
    evals = [load_eval(Path(p)) for p in paths]
    lines = [
        "| Run | Preset | Encoder | Projector | Loss | Corr. acc (%) | Category top-1/5/10 (%) | Sample top-1/5/10 (%) "
        "| Median rank | Image-blind sample top-1/5/10 (%) | Chance sample top-1/5/10 (%) | Frames / list |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p, ev in zip(paths, evals):
        m, rec = ev["model"], ev["recommendation"]
        lines.append(
            "| "
            + " | ".join(
                [
                    (Path(p).parent.name if Path(p).suffix == ".json" else Path(p).name) or str(p),
                    ev.get("preset") or "-",
                    _encoder(ev),
                    PROJECTOR_NAMES.get(m["projector"], m["projector"]),
                    LOSS_NAMES.get(m["loss"], m["loss"]),
                    _pct(ev["correlation"]["accuracy"]),
                    " / ".join(_topk(rec["model"], "category")),
                    " / ".join(_topk(rec["model"], "sample")),
                    f"{rec['model']['sample']['median_rank']:.1f}",
                    " / ".join(_topk(rec["image_blind"], "sample")),
                    " / ".join(_topk(rec["chance"], "sample")),
                    f"{rec['n_frames']} / {rec['list_size']}",
                ]
            )
            + " |"
        )
    datasets = {ev["fingerprint"] for ev in evals}
    if len(datasets) > 1:
        lines += ["", f"Note: these runs were evaluated on {len(datasets)} different datasets; rows are not comparable."]
    return "\n".join(lines) + "\n"
