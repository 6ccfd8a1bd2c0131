"""The paper's audio-visual models: encoders, projectors, losses and the ``AVModel`` file."""

from __future__ import annotations

from engine.models.av_model import AVModel
from engine.models.complexity import count_macs, count_params, model_complexity
from engine.models.losses import LOSSES, build_loss

__all__ = ["AVModel", "LOSSES", "build_loss", "count_macs", "count_params", "model_complexity"]
