"""scripts/check_label_alignment.py: which seconds count, and where a pooled onset profile rises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cla():
    spec = importlib.util.spec_from_file_location("check_label_alignment", ROOT / "scripts" / "check_label_alignment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_isolated_starts_skip_neighbours_and_ambient_loops(cla) -> None:
    labels = {0: [], 1: ["a.ogg"], 2: [], 3: [], 4: ["b.ogg"], 5: ["c.ogg"], 6: [], 7: ["ambient/wind.ogg"],
              8: [], 9: ["d.wav"], 10: ["ambient/birds.ogg"], 11: []}
    # 4 and 5 touch; 7 and 10 are loops only; 0 would be too early for the window before it
    assert cla.isolated_starts(labels, ("ambient/",)) == [1, 9]
    assert cla.isolated_starts({0: ["a.ogg"], 1: [], 2: []}, ("ambient/",)) == []


def test_profile_and_latency_find_a_shifted_rise(cla) -> None:
    env = np.full(30 * cla.BINS, 0.1)
    seconds = [5, 12, 20]
    for k in seconds:  # each sound starts 0.15 s into its second
        env[k * cla.BINS + 15:k * cla.BINS + 60] = 3.0
    total, n = cla.clip_profile(env, seconds + [29])  # 29: its window runs past the end, left out
    assert n == 3
    assert cla.latency(total / n, factor=5.0) == pytest.approx(0.15)
    early = np.roll(total / n, -40)  # the same sounds 0.4 s early: the rise comes before k
    assert cla.latency(early, factor=5.0) == pytest.approx(-0.25)
    assert cla.latency(np.full_like(total, 0.1), factor=5.0) is None
