"""One registry of model presets: the seven rows of the paper's Table 1b plus ``ft`` (Table 1a)."""

from __future__ import annotations

from dataclasses import replace

from engine.config import ModelCfg, TrainCfg, compact, small
from engine.errors import ConfigError

_MODELS: dict[str, ModelCfg] = {
    "m1": ModelCfg(encoder="baseline", projector="distance", loss="bce"),
    "m2": ModelCfg(encoder="attention", projector="distance", loss="bce"),
    "m3": ModelCfg(encoder="attention", projector="distance", loss="bce_margin"),
    "m4": ModelCfg(encoder="attention", projector="mlp", loss="infonce"),
    "m5": ModelCfg(encoder="attention", projector="linear", loss="infonce"),
    "m6": ModelCfg(encoder="attention", projector="mlp", loss="ntxent"),
    "m7": ModelCfg(encoder="attention", projector="linear", loss="ntxent"),
    # Table 1a, last row: attention encoder pre-trained contrastively (m5), fine-tuned with BCE+margin.
    "ft": ModelCfg(encoder="attention", projector="distance", loss="bce_margin"),
}

DESCRIPTIONS: dict[str, str] = {
    "m1": "baseline encoder, distance classifier, BCE",
    "m2": "attention encoder, distance classifier, BCE",
    "m3": "attention encoder, distance classifier, BCE + margin contrastive",
    "m4": "attention encoder, 2-layer MLP projector, InfoNCE",
    "m5": "attention encoder, linear projector, InfoNCE (the paper's best)",
    "m6": "attention encoder, 2-layer MLP projector, NT-Xent",
    "m7": "attention encoder, linear projector, NT-Xent",
    "ft": "attention encoder pre-trained with InfoNCE (--init-from), fine-tuned with BCE + margin",
}


def list_presets() -> list[str]:
    return list(_MODELS)


VARIANTS = {"full": lambda cfg: cfg, "compact": compact, "small": small}


def get_preset(name: str, variant: str = "full") -> ModelCfg:
    """The model config of a preset: ``full`` (the paper's size), ``compact`` or ``small`` (CPU sizes)."""
    if name not in _MODELS:
        raise ConfigError(f"unknown preset {name!r}; choose from {list_presets()}")
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
    return VARIANTS[variant](_MODELS[name])


def train_defaults(model: ModelCfg, data: str = "gameplay") -> TrainCfg:
    """Paper §5 hyper-parameters for a model: batch 128 (baseline) or 32 (attention); lr by data kind."""
    lr = 0.01 if data == "vggsound" else 0.001
    batch = 128 if model.encoder == "baseline" else 32
    negatives = "label" if data == "vggsound" else "gameplay"
    return replace(TrainCfg(model=model), lr=lr, batch_size=batch, negatives=negatives)
