"""A small labelled gameplay corpus for the head-trainer tests: videos with a shape and its sound each
second, their per-second label files, a sound library, a prepared dataset and its tower cache."""

from __future__ import annotations

from pathlib import Path

from engine.data import synthetic
from engine.data.prepare import prepare_dataset
from engine.data.tower_cache import build_tower_cache


def make_labelled_corpus(root: Path, n_videos: int, seconds: int, split_ratios: tuple[float, float, float]) -> tuple[Path, Path, Path]:
    """``(videos, library, dataset)`` under ``root``; the tower cache runs the real towers."""
    videos, library = root / "clips", root / "library"
    videos.mkdir()
    synthetic.write_sound_library(library, per_class=1)
    for i in range(n_videos):
        events = synthetic.random_events(seconds, seed=i, silent_ratio=0.15)
        synthetic.write_video(videos / f"clip{i}.mp4", events, seed=i)
        lines = [f"{k}\t{e}_00.wav" if e else f"{k}\t" for k, e in enumerate(events)]
        (videos / f"clip{i}_labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = root / "data"
    prepare_dataset(videos, data, workers=0, seed=1, split_ratios=split_ratios, progress=False, silence_rms=0.01)
    build_tower_cache(data, workers=0)
    return videos, library, data
