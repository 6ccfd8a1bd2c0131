"""First-transient detection on synthetic sounds with known onsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.data.synthetic import CLASSES, event_sound
from foley_app.core.audio_cache import AudioCache
from foley_app.core.onset import first_transient, onset_in_file

SR = 48_000
MS = 0.001


def _t(seconds: float = 1.0) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


@pytest.mark.parametrize("at", [0.0, 0.0123, 0.25, 0.7])
def test_click_after_silence_is_found_to_the_sample(at: float) -> None:
    w = np.zeros(SR, np.float32)
    i = int(round(at * SR))
    w[i] = 0.9
    w[i + 1 : i + 200] = np.linspace(0.6, 0.0, 199)
    assert first_transient(w, SR) == i / SR


def test_noise_burst_over_a_noise_floor(rng: np.random.Generator) -> None:
    w = rng.normal(0, 0.003, SR).astype(np.float32)
    w[19_200:24_000] += rng.normal(0, 0.3, 4800).astype(np.float32)
    assert abs(first_transient(w, SR) - 0.4) <= 1 * MS


def test_fade_in_starts_where_the_sound_starts() -> None:
    t = _t()
    w = (np.sin(2 * np.pi * 440 * t) * np.clip((t - 0.3) / 0.2, 0, 1)).astype(np.float32)
    assert 0.3 <= first_transient(w, SR) <= 0.3 + 5 * MS


def test_hit_over_a_loud_bed_uses_spectral_change(rng: np.random.Generator) -> None:
    t = _t()
    w = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    w[28_800:31_200] += rng.normal(0, 0.5, 2400).astype(np.float32)
    assert abs(first_transient(w, SR) - 0.6) <= 3 * MS


def test_sound_that_starts_at_once_and_silence() -> None:
    t = _t()
    w = (np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)).astype(np.float32)
    assert first_transient(w, SR) < 1 * MS
    assert first_transient(np.zeros(SR, np.float32), SR) == 0.0
    assert first_transient(np.zeros(0, np.float32), SR) == 0.0


@pytest.mark.parametrize("name", CLASSES)
def test_synthetic_event_sounds_have_their_click_at_50_ms(name: str) -> None:
    assert abs(first_transient(event_sound(name), SR) - 0.05) <= 1 * MS


def test_onset_in_a_file_range_is_relative_to_the_range(tmp_path: Path) -> None:
    w = np.zeros(2 * SR, np.float32)
    w[int(0.3 * SR)] = w[int(1.4 * SR)] = 0.8
    p = tmp_path / "two_hits.wav"
    sf.write(str(p), w, SR, subtype="FLOAT")
    cache = AudioCache()
    assert onset_in_file(p, cache=cache) == pytest.approx(0.3)
    assert onset_in_file(p, 1.0, 2.0, cache=cache) == pytest.approx(0.4)
    assert cache.decodes == 1


def test_a_dropped_sound_lands_with_its_onset_on_the_drop_time(tmp_path: Path) -> None:
    from foley_app.core.commands import AddTrack
    from foley_app.core.document import Document
    from foley_app.core.onset import snapped_add_clip

    p = tmp_path / "door.wav"
    sf.write(str(p), event_sound("square", 1.5), SR, subtype="FLOAT")  # click at 50 ms
    doc = Document()
    AddTrack().do(doc)
    cmd = snapped_add_clip(doc.tracks[0].id, p, 2.0, cache=AudioCache(), name="door", category="DOORS")
    cmd.do(doc)
    clip = doc.tracks[0].clips[0]
    assert clip.position == pytest.approx(1.95, abs=1e-3) and clip.source_start == 0.0
    assert clip.source_end == pytest.approx(1.5) and clip.sound_duration == pytest.approx(1.5)
    seg = snapped_add_clip(doc.tracks[0].id, p, 0.02, source_start=0.0, source_end=1.0, cache=AudioCache()).clip
    assert seg.position == 0.0 and seg.source_start == pytest.approx(0.03, abs=1e-3)  # head trimmed, onset at 0.02
