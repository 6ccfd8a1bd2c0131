"""The decoded-sound cache: LRU bound, read-only data, change detection, waveform peaks, threads."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.errors import MediaError
from foley_app.core.audio_cache import AudioCache

SR = 48_000


def _write(path: Path, n: int, seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).uniform(-0.5, 0.5, n).astype(np.float32)
    sf.write(str(path), w, SR, subtype="FLOAT")
    return w


def test_lru_keeps_within_its_byte_budget(tmp_path: Path) -> None:
    files = [tmp_path / f"{i}.wav" for i in range(4)]
    for i, p in enumerate(files):
        _write(p, SR, i)  # 192 kB decoded each
    cache = AudioCache(max_bytes=3 * SR * 4)
    for p in files[:3]:
        cache.get(p)
    cache.get(files[0])  # most recently used now
    cache.get(files[3])  # evicts files[1], the least recently used
    assert cache.nbytes <= cache.max_bytes and len(cache) == 3
    assert files[0] in cache and files[1] not in cache and files[3] in cache
    assert cache.decodes == 4
    cache.get(files[0])
    assert cache.decodes == 4


def test_data_is_exact_read_only_and_refreshed_when_the_file_changes(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    w = _write(p, 1000)
    cache = AudioCache()
    got = cache.get(p)
    assert np.array_equal(got, w)
    with pytest.raises(ValueError):
        got[0] = 1.0
    st = p.stat()
    w2 = _write(p, 1200, seed=5)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert np.array_equal(cache.get(p), w2) and cache.decodes == 2
    assert len(cache) == 1 and cache.nbytes == w2.nbytes  # the old version was dropped
    assert np.array_equal(cache.segment(p, 1150 / SR, 1250 / SR), np.r_[w2[1150:], np.zeros(50, np.float32)])
    with pytest.raises(MediaError):
        cache.get(tmp_path / "missing.wav")


def test_peaks_match_a_brute_force_min_max(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    w = _write(p, 10_001)
    cache = AudioCache()
    pk = cache.peaks(p, 37)
    edges = (np.arange(38) * w.size) // 37
    expect = np.array([[w[a:b].min(), w[a:b].max()] for a, b in zip(edges[:-1], edges[1:])])
    assert pk.shape == (37, 2) and np.array_equal(pk, expect)
    part = cache.peaks(p, 4, start=100 / SR, end=200 / SR)
    assert np.array_equal(part[0], [w[100:125].min(), w[100:125].max()])
    zoomed = cache.peaks(p, 20, start=0, end=10 / SR)  # more bins than samples
    assert np.array_equal(zoomed[:, 0], zoomed[:, 1]) and np.array_equal(zoomed[::2, 0], w[:10])
    assert cache.peaks(p, 0).shape == (0, 2)


def test_two_threads_decode_a_file_once(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    _write(p, SR * 5)
    cache = AudioCache()
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(p))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.decodes == 1 and len(results) == 4 and all(r is results[0] for r in results)
