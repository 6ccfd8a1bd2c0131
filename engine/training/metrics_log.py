"""Per-epoch (and per-checkpoint) metric rows: ``metrics.csv`` plus TensorBoard events if installed."""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.csv"
FIELDS = (
    "epoch",  # 1-based epoch the row closes
    "step",  # global optimisation steps so far
    "lr",
    "train_loss",  # mean loss over the epoch's steps (all ranks)
    "val_corr_acc",  # correlation accuracy on the fixed validation pairs
    "val_recall1",
    "val_recall5",
    "val_recall10",
    "val_metric",  # what early stopping / LR decay watch
    "threshold",  # contrastive models: calibrated distance threshold
    "best",  # 1 when this epoch's model became best.pt
    "seconds",  # wall-clock seconds of the epoch (not reproducible; ignore when comparing runs)
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return "" if value is None else str(value)


class MetricsLog:
    """Appends rows to ``metrics.csv``; (re)starts it from ``history``, the rows a checkpoint holds.

    The checkpoint carries the rows written so far, so a resumed run rewrites exactly the rows of
    the state it continues from (rows logged after the last checkpoint are dropped and redone).
    """

    def __init__(self, run_dir: Path, enabled: bool = True, history: list[dict[str, Any]] | None = None) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        self._write_rows([{k: _fmt(r.get(k)) for k in FIELDS} for r in history or []])
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional: needs the tensorboard package

            self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tb"))
        except ImportError:
            log.debug("tensorboard not installed; logging to %s only", self.path)

    def _write_rows(self, rows: list[dict[str, str]]) -> None:
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=FIELDS).writerow({k: _fmt(row.get(k)) for k in FIELDS})
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None:
            for k in FIELDS[2:-1]:
                v = row.get(k)
                if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
                    self._tb.add_scalar(k, v, int(row["step"]))
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: Path) -> list[dict[str, str]]:
    """The rows of a ``metrics.csv`` (strings, as written)."""
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))
