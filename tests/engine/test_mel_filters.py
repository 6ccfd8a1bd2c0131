"""The numpy mel filterbank against librosa's, and the front end without librosa."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest

from engine.config import FeatureCfg
from engine.data.mel_filters import hz_to_mel, mel_filterbank, mel_to_hz
from engine.models.towers import aisfx_features


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax, htk, norm", [
    (16_000, 1024, 64, 0.0, None, False, "slaney"),  # the scratch models' front end
    (44_100, 2048, 96, 0.0, 22_050.0, True, 1.0),  # aisfx's
    (22_050, 512, 40, 125.0, 7_600.0, False, None),
    (48_000, 2048, 128, 20.0, 20_000.0, True, 2),
    (22_050, 1024, 32, 0.0, None, False, np.inf),
])
def test_the_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm) -> None:
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (n_mels, 1 + n_fft // 2)
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-10)


def test_the_mel_scales_match_librosa_on_both_sides_of_1_khz() -> None:
    hz = np.array([0.0, 60.0, 440.0, 999.0, 1000.0, 1001.0, 8_000.0, 22_050.0])
    for htk in (False, True):
        np.testing.assert_allclose(hz_to_mel(hz, htk), librosa.hz_to_mel(hz, htk=htk), rtol=1e-12)
        mels = hz_to_mel(hz, htk)
        np.testing.assert_allclose(mel_to_hz(mels, htk), librosa.mel_to_hz(mels, htk=htk), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(mel_to_hz(mels, htk), hz, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("norm", ["htk", 0, -1.0])
def test_an_unsupported_norm_is_refused(norm) -> None:
    with pytest.raises(ValueError, match="unsupported mel norm"):
        mel_filterbank(16_000, 512, 32, norm=norm)


def test_computing_log_mels_does_not_import_librosa() -> None:
    """The indexer's and trainer's front end (both feature sets) without librosa's seconds-long import."""
    code = ("import sys, numpy as np\n"
            "from engine.config import FeatureCfg\n"
            "from engine.data.features import log_mel_batch\n"
            "from engine.models.towers import aisfx_features\n"
            "for cfg in (FeatureCfg(), aisfx_features(FeatureCfg())):\n"
            "    out = log_mel_batch(np.zeros((2, int(cfg.sample_rate * cfg.clip_seconds)), np.float32) + 0.01, cfg)\n"
            "    assert np.all(np.isfinite(out)) and out.shape[0] == 2\n"
            "print('librosa' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_torch_front_end_still_matches_the_librosa_reference() -> None:
    from engine.data.features import log_mel, log_mel_batch

    rng = np.random.default_rng(0)
    for cfg in (FeatureCfg(), aisfx_features(FeatureCfg())):
        clips = (0.1 * rng.standard_normal((3, int(cfg.sample_rate * cfg.clip_seconds)))).astype(np.float32)
        batch = log_mel_batch(clips, cfg)
        for clip, got in zip(clips, batch):
            np.testing.assert_allclose(got, log_mel(clip, cfg), atol=2e-4)
