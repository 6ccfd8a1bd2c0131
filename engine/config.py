"""Typed, frozen configuration: one dataclass per concern.

Checkpoints store ``asdict(cfg)`` next to the weights so that ``from_dict`` rebuilds the exact model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar

from engine.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class FeatureCfg:
    """Paper §3: 1 fps frames, 1-s mono clips at 48 kHz -> log of a 64x100 mel spectrogram."""

    sample_rate: int = 48_000
    clip_seconds: float = 1.0
    n_mels: int = 64
    n_frames: int = 100  # hop 480 at 48 kHz -> 100 frames per second
    hop_length: int = 480
    n_fft: int = 1024
    fmin: float = 0.0
    fmax: float | None = None  # None = Nyquist
    log_eps: float = 1e-6  # log(mel + eps)
    fps: float = 1.0
    frame_offset: float = 0.5  # frame k is taken at t = k + 0.5 s, the middle of audio second k
    image_size: int = 224  # frames are cached at this size (uint8 RGB)
    # Level normalisation of every 1-s window (the same in training and indexing, see docs/architecture.md):
    # scale to target_rms, never by more than max_gain_db, so near-silence stays quiet.
    level_norm: bool = True
    target_rms: float = 0.1
    max_gain_db: float = 30.0
    level_mode: str = "rms"  # "rms": scale to target_rms | "peak": scale the peak to 1 (pretrained aisfx)
    # Mel filter bank and compression (the defaults are the paper's; see engine.models.towers.aisfx_features)
    mel_htk: bool = False
    mel_norm: str | float | None = "slaney"
    log_scale: str = "ln"  # "ln": log(mel + log_eps) | "log10p": log10(mel * 1e4 + 1)


@dataclass(frozen=True)
class ModelCfg:
    """Encoders + projector + loss: one row of the paper's Table 1."""

    encoder: str = "attention"  # "baseline" | "attention"
    vision_channels: tuple[int, ...] = (64, 128, 256, 512)
    audio_channels: tuple[int, ...] = (32, 64, 128, 256)
    image_size: int = 224  # the vision encoder's input; cached 224 frames are resized to it
    embed_dim: int = 128
    fc_hidden: int = 512  # baseline: width of the hidden fully-connected layer
    projector: str = "distance"  # "distance" (BCE models) | "linear" | "mlp" (contrastive models)
    proj_dim: int = 128
    loss: str = "bce"  # "bce" | "bce_margin" | "infonce" | "ntxent"
    margin: float = 0.1
    temperature: float = 0.5
    # Pretrained towers (engine.models.towers): "scratch" trains the paper's CNN; a pretrained tower
    # stays frozen and only a head on top of it is trained.
    vision_tower: str = "scratch"  # "scratch" | "efficientnet-lite0"
    audio_tower: str = "scratch"  # "scratch" | "aisfx" | "aisfx-small"
    head_dropout: float = 0.0  # dropout before the heads on pretrained towers
    head_hidden: int = 0  # the audio head on a pretrained tower: 0 = linear, else one hidden ReLU layer

    @property
    def contrastive(self) -> bool:
        return self.loss in ("infonce", "ntxent")


@dataclass(frozen=True)
class TrainCfg:
    """Paper §5 defaults: SGD + Nesterov 0.9, wd 1e-4, lr decayed on plateau, early stop after 20."""

    model: ModelCfg = field(default_factory=ModelCfg)
    lr: float = 0.001  # 0.01 for VGG-Sound-like data, 0.001 for gameplay-like
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 32  # 128 for the baseline, 32 for attention models
    epochs: int = 100
    early_stop_patience: int = 20
    lr_decay_factor: float = 0.1
    lr_decay_patience: int = 5
    pairs_per_epoch: int = 0  # 0 = one pass over the training seconds (balanced pairs or batches)
    val_pairs: int = 1280
    negatives: str = "gameplay"  # "gameplay" (other video / distant time) | "label" (different label)
    min_gap_s: int = 5  # gameplay negatives from the same video are at least this far away
    skip_silent: bool = False  # leave seconds quieter than silence_rms out of positive pairs
    silence_rms: float = 1e-3
    init_from: str | None = None  # checkpoint to start from (preset "ft": contrastive pre-training)
    num_workers: int = 0
    seed: int = 0
    amp: bool = True  # used on CUDA only


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a (nested) config dataclass."""
    return asdict(cfg)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config dataclass from ``to_dict`` output; unknown keys are an error."""
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {sorted(unknown)}; was the file written by a newer version?")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name == "model" and isinstance(value, dict):
            value = from_dict(ModelCfg, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)  # type: ignore[call-arg]


def compact(cfg: ModelCfg) -> ModelCfg:
    """The CPU-friendly variant: half the channels and a 112x112 vision input (~1/16 of the MACs)."""
    return replace(
        cfg,
        vision_channels=tuple(max(8, c // 2) for c in cfg.vision_channels),
        audio_channels=tuple(max(8, c // 2) for c in cfg.audio_channels),
        image_size=112,
        fc_hidden=max(64, cfg.fc_hidden // 2),
    )


def small(cfg: ModelCfg) -> ModelCfg:
    """The shipped default's size: compact with half the vision channels and an 80x80 input.

    About 1/4 of compact's training cost per step (0.55 vs 2.1 CPU-s for a batch of 32 here),
    for training on a busy 2-core CPU; see resources/models/MODEL_CARD.md.
    """
    c = compact(cfg)
    return replace(c, vision_channels=tuple(max(8, ch // 2) for ch in c.vision_channels), image_size=80)

