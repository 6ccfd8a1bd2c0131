"""The product's performance targets (issue 9): one row per figure of ``foley-engine bench``."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A figure's JSON key, what it measures, its bound and whether higher is better."""

    key: str
    label: str
    bound: float
    higher_is_better: bool
    unit: str

    def passes(self, value: float | None) -> bool | None:
        """True/False against the bound; None when the figure could not be measured."""
        if value is None or not math.isfinite(value):
            return None
        return value >= self.bound if self.higher_is_better else value <= self.bound

    @property
    def text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.bound:g}{self.unit}"


TARGETS: tuple[Target, ...] = (
    Target("frame_to_top10_p95_ms", "frame -> top-10, no video cache (p95)", 30.0, False, " ms"),
    Target("cached_top10_p95_ms", "frame -> top-10 from the video cache (p95)", 2.0, False, " ms"),
    Target("hnsw_speedup", "HNSW vs exact search (p50 CPU-time ratio)", 50.0, True, "x"),
    Target("hnsw_recall10", "HNSW recall@10 vs exact", 0.95, True, ""),
    Target("index_realtime_factor", "library indexing (audio s per wall s)", 300.0, True, "x"),
    Target("launch_to_first_s", "app launch -> first recommendations (demo)", 5.0, False, " s"),
    Target("scrub_update_ms", "scrub -> updated list in the app (p95)", 50.0, False, " ms"),
    Target("ui_stall_max_ms", "longest UI event-loop stall during background work", 50.0, False, " ms"),
    Target("loader_headroom", "training loader delivery / model consumption", 5.0, True, "x"),
    Target("index_rss_mb", "resident memory of the open index", 1500.0, False, " MB"),
)

KEYS = tuple(t.key for t in TARGETS)
