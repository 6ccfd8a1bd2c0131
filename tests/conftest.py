"""Shared fixtures: small real media files generated once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.data import synthetic

# A fixed event sequence: frame k shows events[k] and audio second k holds its sound.
EVENTS = ["circle", "square", None, "triangle", "bar", "circle", None, "square", "triangle", "bar"]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def event_video(media_dir: Path) -> synthetic.SyntheticVideo:
    """A 10-s 160x120 H.264/AAC video with known events per second."""
    return synthetic.write_video(media_dir / "events.mp4", EVENTS, seed=1)


@pytest.fixture(scope="session")
def sound_library(media_dir: Path) -> list[Path]:
    """A folder-per-category WAV library matching the synthetic event classes."""
    return synthetic.write_sound_library(media_dir / "library")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
