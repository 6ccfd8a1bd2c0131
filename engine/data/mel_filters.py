"""Mel filterbanks in plain numpy, the same numbers as ``librosa.filters.mel``.

Importing librosa pulls in scipy.signal and scipy.stats: 1.6 s warm and several seconds cold, in
every process that computes a log-mel (each indexing worker, the app's first library pass). The
filterbank is all the torch front end needs from it, so it is computed here after librosa 0.11's
formulas (ISC licence): mel scales by Slaney (linear below 1 kHz, logarithmic above) or HTK,
triangular filters between neighbouring band edges, and Slaney area or p-norm normalisation.
``tests/engine/test_mel_filters.py`` checks it against librosa.
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3  # Slaney: Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float, htk: bool = False) -> np.ndarray:
    f = np.asanyarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _F_SP
    return np.where(f >= _MIN_LOG_HZ, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels: np.ndarray | float, htk: bool = False) -> np.ndarray:
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | float | None = "slaney") -> np.ndarray:
    """``(n_mels, 1 + n_fft // 2)`` float32 weights turning a power spectrum into mel bands."""
    if fmax is None:
        fmax = sr / 2.0
    if norm is not None and norm != "slaney" and (isinstance(norm, str) or not norm > 0):
        raise ValueError(f"unsupported mel norm {norm!r}: use 'slaney', None or a p-norm > 0")
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    width = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_hz)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / width[i], ramps[i + 2] / width[i + 1]))
    if norm == "slaney":  # about constant energy per band
        weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, np.newaxis]
    elif norm is not None:  # each band to unit p-norm; bands of (almost) zero norm left as they are
        p = float(norm)
        mag = np.abs(weights).astype(np.float64)
        length = np.max(mag, axis=1, keepdims=True) if np.isinf(p) else np.sum(mag**p, axis=1, keepdims=True) ** (1.0 / p)
        length[length < np.finfo(np.float32).tiny] = 1.0
        weights = (weights / length).astype(np.float32)
    return weights
