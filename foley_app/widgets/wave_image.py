"""Waveform bars rasterised with numpy into a QImage: one ``drawImage`` instead of a line per pixel column."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage


def bars_image(lo: np.ndarray, hi: np.ndarray, width: int, height: int, colour: QColor) -> QImage:
    """An ARGB image ``width`` x ``height``: column x is filled between ``hi`` and ``lo`` (in -1..1, up is +).

    ``lo``/``hi`` are resampled to ``width`` columns (nearest bin); transparent elsewhere.
    """
    width, height = max(1, int(width)), max(1, int(height))
    n = len(hi)
    if n == 0:
        img = QImage(width, height, QImage.Format_ARGB32_Premultiplied)
        img.fill(0)
        return img
    idx = np.minimum((np.arange(width) * n / width).astype(np.int64), n - 1)
    top_v = np.clip(np.asarray(hi, np.float32)[idx], -1.0, 1.0)
    bot_v = np.clip(np.asarray(lo, np.float32)[idx], -1.0, 1.0)
    half = (height - 1) / 2.0
    top = np.floor(half - top_v * half).astype(np.int32)
    bot = np.ceil(half - bot_v * half).astype(np.int32)
    mid = int(round(half))
    top = np.minimum(top, mid)
    bot = np.maximum(bot, mid)  # silence still shows a hairline
    rows = np.arange(height, dtype=np.int32)[:, None]
    mask = (rows >= top[None, :]) & (rows <= bot[None, :])  # (H, W)
    argb = np.zeros((height, width), np.uint32)
    c = colour.rgba() & 0xFFFFFFFF
    argb[mask] = c
    img = QImage(argb.data, width, height, 4 * width, QImage.Format_ARGB32)
    return img.copy()
