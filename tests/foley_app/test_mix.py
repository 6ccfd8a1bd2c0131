"""The mix on numbers: clips placed, scaled and summed to the exact sample; mute, solo, stems, limiter, normalise.

The sounds hold dyadic values and the gains are exact powers of two (+-6.02 dB), so every expected
sample is exact in float32 and the assertions compare for equality.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foley_app.core.audio_cache import AudioCache
from foley_app.core.commands import AddClip, AddTrack, SetTrackMute, SetTrackSolo, SetTrackVolume
from foley_app.core.document import Clip, Document
from foley_app.core.errors import ExportCancelled, ExportError
from foley_app.core.mix import (
    CEILING_DB,
    add_scaled,
    clip_samples,
    db_to_gain,
    limit,
    mixdown,
    normalize,
    render,
    render_stems,
)

SR = 48_000
UP = 20 * math.log10(2.0)  # +6.02 dB: a gain of exactly 2 in float32
DOWN = -UP  # a gain of exactly 0.5
WAVE = ((np.arange(64) - 32) / 64).astype(np.float32)  # -0.5 .. 0.484375 in steps of 1/64
N = 200  # samples rendered


def _s(n: int) -> float:
    """``n`` samples in seconds."""
    return n / SR


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mix") / "ramp.wav"
    sf.write(str(path), WAVE, SR, subtype="FLOAT")
    return path


def _doc(sound: Path) -> Document:
    """Track A: the whole sound at sample 100, +6 dB. Track B (fader -6 dB): its samples 8..55 at sample 120."""
    doc = Document()
    AddTrack("A").do(doc)
    AddTrack("B").do(doc)
    a, b = doc.tracks
    AddClip(a.id, Clip("a", sound, 0.0, _s(64), _s(100), UP)).do(doc)
    AddClip(b.id, Clip("b", sound, _s(8), _s(56), _s(120), 0.0)).do(doc)
    SetTrackVolume(b.id, DOWN).do(doc)
    return doc


def _expected(a: bool = True, b: bool = True) -> np.ndarray:
    out = np.zeros(N, np.float32)
    if a:
        out[100:164] += WAVE * 2
    if b:
        out[120:168] += WAVE[8:56] / 2
    return out


def test_gains_of_plus_and_minus_six_db_are_exact() -> None:
    assert np.float32(db_to_gain(UP)) == 2.0 and np.float32(db_to_gain(DOWN)) == 0.5 and db_to_gain(0.0) == 1.0


def test_add_scaled_places_and_crops_a_segment() -> None:
    buf = np.zeros(6, np.float32)  # timeline samples 100..105
    add_scaled(buf, 100, np.array([1, 2, 3], np.float32), 98, 2.0)  # only its last sample lands, on 100
    add_scaled(buf, 100, np.array([1, 2, 3], np.float32), 104, 0.5)  # its last sample falls after the buffer
    add_scaled(buf, 100, np.array([1, 2, 3], np.float32), 101, 1.0)  # overlaps: summed
    add_scaled(buf, 100, np.array([9, 9], np.float32), 90, 1.0)  # wholly before: nothing
    np.testing.assert_array_equal(buf, [6.0, 1.0, 2.0, 3.0, 0.5, 1.0])


def test_clip_samples_round_to_the_nearest_sample() -> None:
    clip = Clip("c", Path("x.wav"), _s(3) + 0.4 / SR, _s(7), _s(10) + 0.6 / SR)
    assert clip_samples(clip, SR) == (11, 3, 4)


def test_render_sums_the_tracks_exactly(sound: Path) -> None:
    out = render(_doc(sound), SR, length_s=_s(N), cache=AudioCache())
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, _expected())


def test_render_defaults_to_the_last_clips_end(sound: Path) -> None:
    out = render(_doc(sound), SR, cache=AudioCache())
    np.testing.assert_array_equal(out, _expected()[:168])


def test_mute_and_solo_take_tracks_out_of_the_mix(sound: Path) -> None:
    doc = _doc(sound)
    a, b = doc.tracks
    mute = SetTrackMute(b.id, True)
    mute.do(doc)
    np.testing.assert_array_equal(render(doc, SR, length_s=_s(N), cache=AudioCache()), _expected(b=False))
    mute.undo(doc)
    SetTrackSolo(b.id, True).do(doc)
    np.testing.assert_array_equal(render(doc, SR, length_s=_s(N), cache=AudioCache()), _expected(a=False))


def test_stems_add_up_to_the_mix_bit_for_bit(sound: Path) -> None:
    doc = _doc(sound)
    stems = list(render_stems(doc, SR, length_s=_s(N), cache=AudioCache()))
    assert [t.name for t, _ in stems] == ["A", "B"] and all(s.size == N for _, s in stems)
    np.testing.assert_array_equal(stems[0][1], _expected(b=False))
    np.testing.assert_array_equal(stems[1][1], _expected(a=False))
    np.testing.assert_array_equal(stems[0][1] + stems[1][1], render(doc, SR, length_s=_s(N), cache=AudioCache()))


def test_normalize_puts_the_peak_at_the_ceiling() -> None:
    x = np.array([0.0, 0.25, -0.5, 0.125], np.float32)
    g = np.float32(db_to_gain(CEILING_DB) / 0.5)
    np.testing.assert_array_equal(normalize(x), x * g)
    np.testing.assert_array_equal(normalize(np.zeros(4, np.float32)), np.zeros(4))  # silence stays silence


def test_mixdown_normalize_and_modes(sound: Path) -> None:
    doc = _doc(sound)
    mix = mixdown(doc, SR, "normalize", length_s=_s(N), cache=AudioCache())
    raw = _expected()
    peak = float(np.abs(raw).max())  # sample 163, where the clips overlap: 2 * 31/64 + 19/64 / 2
    assert peak == 1.1171875
    np.testing.assert_array_equal(mix, raw * np.float32(db_to_gain(CEILING_DB) / peak))
    assert np.abs(mix).max() == pytest.approx(db_to_gain(CEILING_DB), rel=1e-6)
    with pytest.raises(ExportError, match="unknown mix mode"):
        mixdown(doc, SR, "loud", cache=AudioCache())


def test_limit_leaves_a_quiet_signal_alone_and_holds_a_loud_one_under_the_ceiling() -> None:
    ceiling = np.float32(db_to_gain(CEILING_DB))
    quiet = np.full(4_800, 0.5, np.float32)
    np.testing.assert_array_equal(limit(quiet, SR), quiet)
    loud = np.full(SR, 2.0, np.float32)
    out = limit(loud, SR)
    assert np.abs(out).max() <= ceiling
    assert out[SR // 2] == pytest.approx(ceiling, rel=1e-6)  # steady state: exactly down to the ceiling


def test_limit_dips_ahead_of_a_peak_and_recovers() -> None:
    ceiling = np.float32(db_to_gain(CEILING_DB))
    x = np.full(SR, 0.5, np.float32)
    peak = SR // 2
    x[peak] = 2.0
    out = limit(x, SR)
    assert abs(out[peak]) <= ceiling and out[peak] == pytest.approx(ceiling, rel=1e-3)
    lookahead = round(0.005 * SR)
    np.testing.assert_array_equal(out[: peak - 2 * lookahead], x[: peak - 2 * lookahead])  # untouched 10 ms before
    assert out[peak - lookahead // 2] < 0.5  # the gain is already down before the peak arrives
    assert out[-1] == pytest.approx(0.5, rel=5e-3)  # 0.5 s later: six 80-ms release time constants


def test_missing_sounds_and_cancel(sound: Path, tmp_path: Path) -> None:
    import threading

    doc = _doc(sound)
    AddClip(doc.tracks[0].id, Clip("gone", tmp_path / "gone.wav", 0.0, _s(64), 0.0)).do(doc)
    with pytest.raises(ExportError, match="1 sound file"):
        render(doc, SR, cache=AudioCache())
    np.testing.assert_array_equal(render(doc, SR, length_s=_s(N), cache=AudioCache(), skip_missing=True), _expected())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled):
        render(_doc(sound), SR, cache=AudioCache(), cancel=cancel)
