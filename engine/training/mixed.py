"""train-heads with one pretrained tower and one scratch encoder: the ablation of each tower's share.

``--audio-tower scratch`` keeps EfficientNet-Lite0's cached maps under the picture head and trains
the paper's sound encoder from scratch on the dataset's own log-mels; ``--vision-tower scratch``
keeps the cached aisfx (or aisfx-small) embeddings under the sound head and trains the paper's
picture encoder from scratch on the dataset's own frames. The scratch encoder has the ``small``
variant's size (the previous shipped model's, ``engine.config.small``) and is trained with the
heads, by the same loop, loss and checkpoint choice (``engine.training.heads``).

The head trainer only sees per-second inputs: a pretrained stream's tower features, or a scratch
encoder's prepared input (its "tower" is the identity: the encoder is all head). So the cached
tower features are read as usual and the scratch stream's column is replaced, row for row, by
what ``AVModel`` feeds that encoder at inference: the log-mels of the model's front end
(``clip_mels``: the shards' own when the front ends agree, else decoded again from the source
video) or the cached frames through ``AVModel.prepare_frames``. Rows stay those of the tower
cache (``TowerFeatures.rows``, each dataset's manifest rows), so both streams of a row are the
same second.

The model file is an ordinary ``AVModel``: its config names both towers, the scratch encoder's
weights are in it, and the indexer and the recommender run it like any other model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.config import FeatureCfg, ModelCfg
from engine.data.tower_cache import AUDIO_TOWER, TowerFeatures, join_tower_features, load_tower_features, tower_dir
from engine.errors import ConfigError

SCRATCH_VARIANT = "small"  # the scratch encoder's size (engine.presets.VARIANTS)
FRAME_BATCH = 256


def is_mixed(vision_tower: str, audio_tower: str) -> bool:
    return "scratch" in (vision_tower, audio_tower)


def check_towers(vision_tower: str, audio_tower: str, hidden: int = 0) -> None:
    """``ConfigError`` (one line) for a tower pair train-heads does not train."""
    from engine.models.towers import AUDIO_TOWERS, VISION_TOWERS

    if vision_tower not in VISION_TOWERS:
        raise ConfigError(f"unknown picture tower {vision_tower!r}; choose from {list(VISION_TOWERS)}")
    if audio_tower not in AUDIO_TOWERS:
        raise ConfigError(f"unknown sound tower {audio_tower!r}; choose from {list(AUDIO_TOWERS)}")
    if vision_tower == audio_tower == "scratch":
        raise ConfigError("train-heads needs at least one pretrained tower; train two scratch encoders with 'foley-engine train'")
    if audio_tower == "scratch" and hidden:
        raise ConfigError("--hidden shapes the head on a pretrained sound tower; a scratch sound encoder has none")


def mixed_cfg(preset_cfg: ModelCfg, vision_tower: str, audio_tower: str, dropout: float = 0.3, hidden: int = 0) -> ModelCfg:
    """A preset's projector and loss on one pretrained tower and one scratch encoder of the ``small`` size."""
    from engine.presets import VARIANTS

    check_towers(vision_tower, audio_tower, hidden)
    small = VARIANTS[SCRATCH_VARIANT](preset_cfg)
    image_size = small.image_size if vision_tower == "scratch" else 224  # EfficientNet-Lite0 reads 224 px
    return replace(small, vision_tower=vision_tower, audio_tower=audio_tower, image_size=image_size,
                   head_dropout=dropout, head_hidden=hidden)


def head_features(cfg: ModelCfg) -> FeatureCfg:
    """The front end of the model train-heads builds for ``cfg`` (``train_heads`` builds it so)."""
    from engine.models.towers import features_for

    return features_for(cfg.vision_tower, cfg.audio_tower)


def _cached(dataset: Path, audio_tower: str) -> TowerFeatures:
    """The dataset's cached tower features: those of ``audio_tower``; for a scratch sound encoder
    those of any aisfx tower (only their picture maps are read, the same in each)."""
    from engine.models.towers import AISFX_FAMILY

    if audio_tower != "scratch":
        return load_tower_features(dataset, audio_tower)
    for audio in AISFX_FAMILY:
        folder = tower_dir(dataset, audio=audio)
        if folder.is_dir() and any(f for f in folder.glob("*.npz") if not f.name.startswith(".")):
            return load_tower_features(dataset, audio)
    return load_tower_features(dataset, AUDIO_TOWER)  # none: its error says to run cache-towers


def scratch_frames(model, cache, rows: np.ndarray) -> np.ndarray:
    """float16 ``(n, 3, S, S)``: the cached frames of ``rows`` as ``model`` prepares them for its
    scratch picture encoder (resized to its input, normalised), as ``embed_frames`` does."""
    rows = np.asarray(rows, np.int64)
    s = model.cfg.image_size
    out = np.zeros((len(rows), 3, s, s), np.float16)
    with torch.no_grad():
        for i in range(0, len(rows), FRAME_BATCH):
            frames = model._frames_tensor(cache.frames(rows[i : i + FRAME_BATCH]))
            out[i : i + FRAME_BATCH] = model.prepare_frames(frames).cpu().half().numpy()
    return out


def load_mixed_features(dataset: Path | Sequence[Path], cfg: ModelCfg) -> TowerFeatures:
    """The tower cache of ``dataset`` (one or several) with the scratch stream's column replaced by
    its encoder's prepared input, row for row: log-mels ``(n, 1, n_mels, n_frames)`` float32 for a
    scratch sound encoder, frames ``(n, 3, S, S)`` float16 for a scratch picture encoder."""
    from engine.data.cache import FeatureCache
    from engine.data.tower_cache import clip_mels

    if not isinstance(dataset, (str, Path)):
        return join_tower_features([load_mixed_features(d, cfg) for d in dataset])
    check_towers(cfg.vision_tower, cfg.audio_tower, cfg.head_hidden)
    features = head_features(cfg)
    tf = _cached(Path(dataset), cfg.audio_tower)
    cache = FeatureCache(dataset)
    if cfg.audio_tower == "scratch":
        tf = replace(tf, audio=clip_mels(cache, tf.rows, features)[:, None])
    if cfg.vision_tower == "scratch":
        from engine.models import AVModel

        model = AVModel(cfg, features, channels_last=False)  # only its frame preparation is used
        tf = replace(tf, vision=scratch_frames(model, cache, tf.rows))
    return tf
