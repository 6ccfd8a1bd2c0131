"""Parameter and multiply-add counts of a module, measured with forward hooks on conv/linear layers."""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass over ``inputs``, per sample (batch dim divided out).

    Counts every ``Conv2d`` and ``Linear`` call (the bulk of the cost); BatchNorm, ReLU, pooling,
    softmax and the attention weighting (< 0.1 % here) are not counted.
    """
    total = 0

    def conv_hook(m: nn.Conv2d, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(*inputs)
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return total // max(1, inputs[0].shape[0])


def model_complexity(model: nn.Module) -> dict[str, int]:
    """Parameters and per-sample MACs of an ``AVModel``'s two encoders and its projector."""
    cfg, feats = model.cfg, model.features
    device = next(model.parameters()).device
    frame = torch.zeros(1, 3, cfg.image_size, cfg.image_size, device=device)
    mel = torch.zeros(1, 1, feats.n_mels, feats.n_frames, device=device)
    return {
        "vision_params": count_params(model.vision),
        "vision_macs": count_macs(model.vision, frame),
        "audio_params": count_params(model.audio),
        "audio_macs": count_macs(model.audio, mel),
        "projector_params": count_params(model.projector),
    }
