"""Small prepared datasets for the trainer/evaluator tests: one event class per video.

Every second of video v shows the shape of class ``CLASSES[v % 6]`` (random position) and holds
its sound, and the video is labelled with that class. With ``negatives="label"`` an uncorrelated
pair then always pairs two different classes, so the correlation is fully learnable (the generic
``synthetic.write_feature_cache`` mixes classes inside a video, which caps the reachable accuracy).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.config import FeatureCfg, ModelCfg, TrainCfg, to_dict
from engine.data.cache import ManifestRow, write_index
from engine.data.synthetic import CLASSES, write_feature_shard
from engine.presets import get_preset, train_defaults

FEATURES = FeatureCfg(image_size=64)  # frames cached at 64x64: small and fast for tests


def write_class_cache(root: Path, per_split: dict[str, tuple[int, int]] | None = None, seed: int = 0, prefix: str = "") -> Path:
    """A prepared dataset: ``per_split[split] = (videos, seconds)``, videos cycling through the 6 classes (ids start with ``prefix``)."""
    per_split = per_split or {"train": (12, 8), "val": (6, 4), "test": (6, 4)}
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "shards").mkdir(parents=True, exist_ok=True)
    rows: list[ManifestRow] = []
    v = 0
    for split, (n_videos, n) in per_split.items():
        for _ in range(n_videos):
            label = CLASSES[v % len(CLASSES)]
            video_id = f"{prefix}{split}{v:03d}"
            name, levels = write_feature_shard(root, video_id, [label] * n, rng, FEATURES, noise=1e-3)
            rows += [ManifestRow(len(rows) + k, video_id, k, label, split, float(levels[k]), name, k) for k in range(n)]
            v += 1
    write_index(root, rows, {"features": to_dict(FEATURES), "source": "tests.engine.training_data", "seed": seed})
    return root


def tiny_model(preset: str) -> ModelCfg:
    """A preset's model at test size: narrow channels, 32x32 frames, 32-d embeddings."""
    return replace(
        get_preset(preset),
        vision_channels=(8, 16, 16, 32),
        audio_channels=(8, 16, 16, 32),
        image_size=32,
        fc_hidden=32,
        embed_dim=32,
        proj_dim=32,
    )


def tiny_cfg(preset: str, **kw) -> TrainCfg:
    """Paper defaults of a preset for label-negative data, at test size (override anything via kw)."""
    base = replace(train_defaults(tiny_model(preset), "vggsound"), batch_size=8, epochs=2, val_pairs=24)
    return replace(base, **kw)
