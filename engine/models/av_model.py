"""``AVModel``: the two-stream encoder + projector + loss of one Table-1 row, and its model file.

``embed_frames`` / ``embed_audio`` / ``embed_waveforms`` are the entry points the rest of the
code uses; retrieval ranks the *encoder* outputs (128-d, L2-normalised) by Euclidean distance
for every preset (paper §5.2), the projector only serves training and correlation scores.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.functional import interpolate

from engine.config import FeatureCfg, ModelCfg, from_dict, to_dict
from engine.data.features import IMAGENET_MEAN, IMAGENET_STD, log_mel_batch, resize_frame
from engine.errors import CheckpointError, ConfigError
from engine.models.encoders import TowerEncoder, build_stream_encoder
from engine.models.losses import build_loss
from engine.models.model_file import FORMAT, VERSION, check_extra, read_payload, weights_hash, write_atomic
from engine.models.projectors import build_projector, pair_distance
from engine.models.towers import aisfx_features

log = logging.getLogger(__name__)

ArrayLike = np.ndarray | torch.Tensor


class AVModel(nn.Module):
    """Vision encoder E_v, audio encoder E_a, projector P and loss L (paper §4)."""

    def __init__(self, cfg: ModelCfg, features: FeatureCfg = FeatureCfg(), channels_last: bool = True) -> None:
        """``channels_last`` stores conv weights NHWC: the same numbers (to float rounding), 1.2-2x faster
        on CPU (oneDNN, measured in docs/models.md) and the layout tensor cores prefer."""
        super().__init__()
        if cfg.image_size < 16:
            raise ConfigError(f"image_size must be at least 16, got {cfg.image_size}")
        self.cfg = cfg
        self.features = features
        self.vision = build_stream_encoder(cfg, "vision")
        self.audio = build_stream_encoder(cfg, "audio")
        if cfg.audio_tower != "scratch" and features != aisfx_features(features):
            raise ConfigError(f"the {cfg.audio_tower!r} tower needs its own audio features (engine.models.towers.features_for)")
        if channels_last:
            self.vision.to(memory_format=torch.channels_last)
            self.audio.to(memory_format=torch.channels_last)
        self.projector = build_projector(cfg.projector, cfg.embed_dim, cfg.proj_dim)
        self.criterion = build_loss(cfg)
        # distance threshold for contrastive models (the trainer calibrates it on validation pairs);
        # sqrt(2) = orthogonal unit vectors
        self.register_buffer("threshold", torch.tensor(math.sqrt(2.0)))
        # EfficientNet-Lite was trained on (x - 127) / 128 of 0..255 pixels, the scratch CNN on ImageNet statistics
        mean, std = ((127 / 255,) * 3, (128 / 255,) * 3) if cfg.vision_tower != "scratch" else (IMAGENET_MEAN, IMAGENET_STD)
        self.register_buffer("_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.extra: dict[str, Any] = {}
        self._id_cache: tuple[tuple[int, ...], str] | None = None

    @property
    def device(self) -> torch.device:
        return self.threshold.device

    # ---- training-time API -------------------------------------------------------------------

    def prepare_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` -> float ``(B, 3, S, S)`` on the model's device, ImageNet-normalised."""
        if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 RGB frames (B, H, W, 3), got {tuple(frames.shape)} {frames.dtype}")
        x = frames.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, H, W)
        s = self.cfg.image_size
        if x.shape[-2:] != (s, s):
            x = interpolate(x, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
        return (x - self._mean) / self._std

    def prepare_mels(self, mels: torch.Tensor) -> torch.Tensor:
        """float ``(B, n_mels, n_frames)`` -> ``(B, 1, n_mels, n_frames)`` on the model's device."""
        shape = (self.features.n_mels, self.features.n_frames)
        if mels.ndim != 3 or tuple(mels.shape[1:]) != shape:
            raise ValueError(f"expected log-mels (B, {shape[0]}, {shape[1]}), got {tuple(mels.shape)}")
        return mels.to(self.device, dtype=torch.float32, non_blocking=True).unsqueeze(1)

    def encode(self, frames: torch.Tensor, mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames ``(B, H, W, 3)`` and log-mels ``(B, 64, 100)`` -> ``(ev, ea)``, each ``(B, D)``."""
        return self.vision(self.prepare_frames(frames)), self.audio(self.prepare_mels(mels))

    def forward(self, frames: torch.Tensor, mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Same as ``encode``; lets ``DistributedDataParallel(model)(frames, mels)`` run its hooks."""
        return self.encode(frames, mels)

    def loss(self, ev: torch.Tensor, ea: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The preset's loss: ``(loss, logits (B,))`` for BCE models, ``(loss, None)`` for contrastive ones."""
        if labels is not None:
            labels = labels.to(ev.device)
        return self.criterion(ev, ea, self.projector, labels)

    def correlation_logits(self, ev: torch.Tensor, ea: torch.Tensor) -> torch.Tensor:
        """``(B,)`` scores, > 0 = correlated: the classifier, or ``threshold - distance`` (contrastive)."""
        if self.cfg.contrastive:
            return self.threshold - pair_distance(ev, ea)
        return self.projector(ev, ea)

    # ---- inference API -----------------------------------------------------------------------

    def _in_eval(self) -> bool:
        """Every module in eval mode, the towers' own modules (kept out of the module tree) included."""
        for m in self.modules():
            if m.training:
                return False
            if isinstance(m, TowerEncoder) and any(t.training for t in m.tower.modules()):
                return False
        return True

    @contextmanager
    def _eval(self) -> Iterator[None]:
        if self._in_eval():  # the usual case at inference: nothing to switch (a switch walks every module twice, ~2 ms)
            yield
            return
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    def _frames_tensor(self, frames: ArrayLike) -> torch.Tensor:
        if isinstance(frames, torch.Tensor):
            return frames if frames.ndim == 4 else frames.unsqueeze(0)
        arr = np.asarray(frames)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"expected uint8 RGB frames (B, H, W, 3), got {arr.shape} {arr.dtype}")
        size = self.features.image_size
        if arr.shape[1:3] != (size, size):
            # the same resize the feature cache applies, so inference sees what training saw
            arr = np.stack([resize_frame(f, size) for f in arr]) if len(arr) else np.zeros((0, size, size, 3), np.uint8)
        return torch.from_numpy(np.ascontiguousarray(arr))

    @torch.no_grad()
    def embed_frames(self, frames: ArrayLike, batch_size: int = 64) -> np.ndarray:
        """RGB uint8 frames ``(B, H, W, 3)`` of any size -> float32 ``(B, D)`` visual embeddings."""
        x = self._frames_tensor(frames)
        out = np.zeros((x.shape[0], self.cfg.embed_dim), np.float32)
        with self._eval():
            for i in range(0, x.shape[0], batch_size):
                out[i : i + batch_size] = self.vision(self.prepare_frames(x[i : i + batch_size])).float().cpu().numpy()
        return out

    @torch.no_grad()
    def embed_audio(self, mels: ArrayLike, batch_size: int = 256) -> np.ndarray:
        """Log-mels ``(B, 64, 100)`` -> float32 ``(B, D)`` audio embeddings."""
        x = mels if isinstance(mels, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))
        if x.ndim == 2:
            x = x.unsqueeze(0)
        out = np.zeros((x.shape[0], self.cfg.embed_dim), np.float32)
        with self._eval():
            for i in range(0, x.shape[0], batch_size):
                out[i : i + batch_size] = self.audio(self.prepare_mels(x[i : i + batch_size])).float().cpu().numpy()
        return out

    @torch.no_grad()
    def embed_waveforms(self, clips: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Mono 1-s clips ``(B, samples)`` at ``features.sample_rate`` -> ``(B, D)`` via the torch log-mel."""
        clips = np.asarray(clips, dtype=np.float32)
        if clips.ndim == 1:
            clips = clips[None]
        out = np.zeros((clips.shape[0], self.cfg.embed_dim), np.float32)
        for i in range(0, clips.shape[0], batch_size):
            mels = log_mel_batch(clips[i : i + batch_size], self.features)  # (b, 64, 100)
            out[i : i + batch_size] = self.embed_audio(mels, batch_size)
        return out

    @torch.no_grad()
    def attention_maps(self, frame: np.ndarray) -> list[np.ndarray]:
        """Where the vision encoder looked: one ``(h_i, w_i)`` map per level, each summing to 1 ([] for baseline)."""
        x = self._frames_tensor(frame)[:1]
        with self._eval():
            _, maps = self.vision.forward_with_maps(self.prepare_frames(x))
        return [m[0].float().cpu().numpy() for m in maps]

    @torch.no_grad()
    def audio_attention_maps(self, mel: np.ndarray) -> list[np.ndarray]:
        """Where the audio encoder looked in one log-mel ``(64, 100)``: ``(mel_i, time_i)`` maps ([] for baseline)."""
        x = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32)).reshape(1, *np.shape(mel)[-2:])
        with self._eval():
            _, maps = self.audio.forward_with_maps(self.prepare_mels(x))
        return [m[0].float().cpu().numpy() for m in maps]

    # ---- model file --------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """sha256 of the weights (16 hex chars); binds a sound index to the model that made it."""
        sd = self.state_dict()
        key = tuple(t._version for t in sd.values()) + tuple(t.data_ptr() for t in sd.values())
        if self._id_cache is None or self._id_cache[0] != key:
            self._id_cache = (key, weights_hash(sd))
        return self._id_cache[1]

    def payload(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The dict ``save`` writes (a trainer may embed it in its own checkpoint under ``"model"``)."""
        extra = dict(self.extra if extra is None else extra)
        check_extra(extra)
        return {
            "format": FORMAT,
            "version": VERSION,
            "model_cfg": to_dict(self.cfg),
            "features": to_dict(self.features),
            "state_dict": {k: v.detach().to("cpu").clone() for k, v in self.state_dict().items()},
            "model_id": self.model_id,
            "extra": extra,
        }

    def save(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        """Write the model file atomically; ``extra`` (plain values) defaults to ``self.extra``."""
        payload = self.payload(extra)
        write_atomic(payload, Path(path))
        self.extra = payload["extra"]
        log.info("saved model %s to %s", payload["model_id"], path)

    @classmethod
    def from_payload(cls, data: dict[str, Any], source: str = "model payload") -> AVModel:
        """Rebuild a model from ``payload()`` output; ``CheckpointError`` if configs and weights disagree."""
        try:
            cfg = from_dict(ModelCfg, data["model_cfg"])
            features = from_dict(FeatureCfg, data["features"])
            with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave the caller's RNG alone
                model = cls(cfg, features)
        except (ConfigError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{source}: its config cannot be used ({e}); retrain or use a matching version") from e
        try:
            model.load_state_dict(data["state_dict"], strict=True)
        except (RuntimeError, TypeError, AttributeError) as e:
            raise CheckpointError(f"{source}: the weights do not match its config ({str(e).splitlines()[0]}); the file is damaged or was edited") from e
        if model.model_id != data["model_id"]:
            raise CheckpointError(f"{source}: weights hash {model.model_id} != stored id {data['model_id']}; the file is damaged")
        for encoder in (model.vision, model.audio):
            if isinstance(encoder, TowerEncoder):
                encoder.check_tower(source)
        extra = data.get("extra") or {}
        model.extra = dict(extra) if isinstance(extra, dict) else {}
        return model.eval()

    @classmethod
    def load(cls, path: Path, map_location: str = "cpu") -> AVModel:
        """Load a model file (``weights_only=True``), in eval mode on ``map_location``."""
        data = read_payload(Path(path))
        return cls.from_payload(data, str(path)).to(map_location)
