"""Encoder embeddings of dataset rows (frames of some rows, audio of others), in eval mode and chunks."""

from __future__ import annotations

import logging

import numpy as np
import torch

from engine.data.cache import FeatureCache

log = logging.getLogger(__name__)


@torch.no_grad()
def encode_rows(
    model: torch.nn.Module,
    cache: FeatureCache,
    frame_rows: np.ndarray,
    audio_rows: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ev, ea)`` on CPU, float32 ``(n, D)`` each: the frames of ``frame_rows`` and the audio of ``audio_rows``."""
    frame_rows, audio_rows = np.asarray(frame_rows, np.int64), np.asarray(audio_rows, np.int64)
    if frame_rows.shape != audio_rows.shape:
        raise ValueError(f"need as many frame rows as audio rows, got {frame_rows.shape} and {audio_rows.shape}")
    was_training = model.training
    model.eval()
    evs, eas = [], []
    try:
        for a in range(0, frame_rows.size, batch_size):
            frames = torch.from_numpy(cache.frames(frame_rows[a : a + batch_size])).to(device)  # (B, 224, 224, 3) uint8
            mels = torch.from_numpy(cache.mels(audio_rows[a : a + batch_size])).to(device)  # (B, 64, 100)
            ev, ea = model.encode(frames, mels)  # (B, D) each
            evs.append(ev.float().cpu())
            eas.append(ea.float().cpu())
    finally:
        model.train(was_training)
    d = getattr(getattr(model, "cfg", None), "embed_dim", 0)
    if not evs:
        return torch.zeros(0, d), torch.zeros(0, d)
    return torch.cat(evs), torch.cat(eas)
