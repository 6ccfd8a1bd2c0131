"""A simple shot-cut detector: colour-histogram difference between frames sampled a few times a second."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.data.media import iter_frames_at, probe_video

log = logging.getLogger(__name__)


def _histogram(rgb: np.ndarray) -> np.ndarray:
    """Normalised 8x4x4 HSV histogram of a frame (downscaled first: colour, not detail)."""
    import cv2

    small = cv2.resize(rgb, (64, 36), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
    return hist / max(float(hist.sum()), 1.0)


def detect_shots(path: Path, sample_fps: float = 4.0, threshold: float = 0.35, min_shot_s: float = 1.0) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` shots covering the video; a cut where the histogram distance jumps over ``threshold``.

    The distance is the Bhattacharyya distance (0 same colours .. 1 disjoint) between consecutive
    samples; cuts closer than ``min_shot_s`` to the previous one are ignored.
    """
    import cv2

    duration = probe_video(path).duration
    times = list(np.arange(0.0, max(duration - 1e-3, 0.0), 1.0 / sample_fps))
    cuts = [0.0]
    prev: np.ndarray | None = None
    for t, rgb in iter_frames_at(path, times):
        h = _histogram(rgb).astype(np.float32)
        if prev is not None:
            d = cv2.compareHist(prev, h, cv2.HISTCMP_BHATTACHARYYA)
            if d > threshold and t - cuts[-1] >= min_shot_s:
                cuts.append(float(t))
        prev = h
    bounds = cuts + [float(duration)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
