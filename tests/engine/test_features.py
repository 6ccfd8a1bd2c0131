"""Features match the paper and the librosa reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import FeatureCfg
from engine.data.features import (
    clip_at_second,
    clips_from_wave,
    log_mel,
    log_mel_batch,
    normalize_level,
    preprocess_frame,
    resize_frame,
    rms,
)


def test_log_mel_shape_and_reference_values(rng: np.random.Generator) -> None:
    clip = (rng.normal(0, 0.1, 48_000)).astype(np.float32)
    out = log_mel(clip)
    assert out.shape == (64, 100) and out.dtype == np.float32
    import librosa

    norm = normalize_level(clip)
    ref = np.log(librosa.feature.melspectrogram(y=norm, sr=48_000, n_fft=1024, hop_length=480, n_mels=64, pad_mode="constant")[:, :100] + 1e-6)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_torch_batch_agrees_with_librosa(rng: np.random.Generator) -> None:
    clips = (rng.normal(0, 0.2, (12, 48_000)) * rng.uniform(0, 1, (12, 1)) ** 3).astype(np.float32)
    clips[0] = 0.0  # digital silence
    t = np.arange(48_000) / 48_000
    clips[1] = 0.9 * np.sin(2 * np.pi * 1000 * t)  # a loud tone
    ref = np.stack([log_mel(c) for c in clips])
    fast = log_mel_batch(clips)
    assert fast.shape == (12, 64, 100)
    assert np.abs(ref - fast).max() < 1e-4


def test_silence_hits_the_log_floor_and_tone_lands_in_its_band() -> None:
    t = np.arange(48_000) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    m = log_mel(tone)
    band = int(np.argmax(m.mean(axis=1)))
    import librosa

    centres = librosa.mel_frequencies(n_mels=66, fmin=0, fmax=24_000)[1:-1]
    assert abs(centres[band] - 1000) < 200
    silent = log_mel(np.zeros(48_000, np.float32))
    assert np.allclose(silent, np.log(1e-6), atol=1e-6)


def test_level_normalisation_is_capped() -> None:
    cfg = FeatureCfg()
    loud = np.full((1, 1000), 0.5, np.float32)
    quiet = np.full((1, 1000), 1e-5, np.float32)
    assert rms(normalize_level(loud, cfg))[0] == pytest.approx(cfg.target_rms, rel=1e-4)
    # at most +30 dB: 1e-5 -> ~3.16e-4, not 0.1
    assert rms(normalize_level(quiet, cfg))[0] == pytest.approx(1e-5 * 10 ** 1.5, rel=1e-3)


def test_short_clip_is_padded_and_second_k_is_cut() -> None:
    wave = np.arange(2.5 * 48_000, dtype=np.float32)
    assert clip_at_second(wave, 1)[0] == 48_000
    last = clip_at_second(wave, 2)
    assert last.size == 48_000 and last[24_000:].sum() == 0 and last[0] == 96_000
    assert log_mel(np.ones(100, np.float32) * 0.1).shape == (64, 100)


def test_frame_preprocess_shape_and_normalisation() -> None:
    rgb = np.zeros((97, 161, 3), np.uint8)
    rgb[..., 0] = 255
    x = preprocess_frame(rgb)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.full((224, 224), (1 - 0.485) / 0.229), atol=1e-4)
    assert torch.allclose(x[1], torch.full((224, 224), (0 - 0.456) / 0.224), atol=1e-4)
    with pytest.raises(ValueError, match="RGB"):
        resize_frame(np.zeros((10, 10), np.uint8))


def test_torch_log_mel_follows_the_config_and_ignores_batch_composition(rng: np.random.Generator) -> None:
    cfg = FeatureCfg(n_mels=32, fmin=50.0, fmax=12_000.0, level_norm=False)
    clips = (rng.normal(0, 0.05, (5, 48_000))).astype(np.float32)
    fast = log_mel_batch(clips, cfg)
    assert fast.shape == (5, 32, 100)
    ref = np.stack([log_mel(c, cfg) for c in clips])
    assert np.abs(ref - fast).max() < 1e-4
    # a clip's features do not depend on what else is in its batch (prepare cuts long videos in chunks)
    alone = log_mel_batch(clips[3:4], cfg)[0]
    np.testing.assert_allclose(alone, fast[3], atol=1e-5)


def test_clips_from_wave_cuts_seconds_at_their_start_times() -> None:
    wave = np.repeat(np.arange(4, dtype=np.float32), 48_000)  # second k holds the value k
    clips = clips_from_wave(wave, [0, 2, 3.5])
    assert clips.shape == (3, 48_000)
    assert (clips[0] == 0).all() and (clips[1] == 2).all()
    assert (clips[2][:24_000] == 3).all() and (clips[2][24_000:] == 0).all()  # zero-padded past the end
    np.testing.assert_array_equal(clips_from_wave(wave, [1])[0], clip_at_second(wave, 1))
