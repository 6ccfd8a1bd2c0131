"""Video embedding cache: computed once, hit from memory and from disk, resumable, keyed by content + model."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np

from engine.api import Recommender, SoundIndex, VideoEmbeddingCache
from engine.data.media import read_frame

from .conftest import tiny_model


class CountingFrames:
    """Counts frames sent to the real visual encoder (a wrapper around it, not a replacement)."""

    def __init__(self, model) -> None:
        self.model, self.frames, self.calls = model, 0, 0
        self._orig = model.embed_frames

    def __enter__(self) -> CountingFrames:
        def counted(frames, batch_size: int = 64):
            self.calls += 1
            self.frames += len(frames)
            return self._orig(frames, batch_size=batch_size)

        self.model.embed_frames = counted
        return self

    def __exit__(self, *exc: object) -> None:
        del self.model.embed_frames


def test_embed_once_then_every_lookup_is_a_cache_hit(event_video, model, indexed: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "vcache"
    cache = VideoEmbeddingCache(model, cache_dir)
    assert cache.cached(event_video.path) is None
    with CountingFrames(model) as counter:
        rows = cache.embed_video(event_video.path)
    assert rows.shape == (10, model.cfg.embed_dim) and np.all(np.isfinite(rows))
    assert counter.frames == 10
    # the cached row k is the embedding of the frame at k + 0.5 s
    np.testing.assert_allclose(rows[3], model.embed_frames(read_frame(event_video.path, 3.5)[None])[0], atol=1e-5)

    with SoundIndex.open(indexed, model.model_id) as index, CountingFrames(model) as counter:
        rec = Recommender(model, index, cache_dir)  # a new cache object: reads the file on disk
        again = rec.video_cache.embed_video(event_video.path)
        got = rec.for_video(event_video.path, 3.7, k=5)
        for t in np.arange(0.0, 10.0, 0.25):
            rec.for_video(event_video.path, float(t), k=5)
        assert counter.calls == 0
        np.testing.assert_array_equal(again, rows)
        assert [c.path for c in got] == [c.path for c in rec.for_embedding(rows[3], k=5)]
        no_cache = Recommender(model, index)  # without a cache every lookup decodes and encodes
        no_cache.for_video(event_video.path, 3.7, k=5)
        assert counter.calls == 1


def test_cache_is_keyed_by_content_and_model(event_video, model, tmp_path: Path) -> None:
    cache_dir = tmp_path / "vcache"
    VideoEmbeddingCache(model, cache_dir).embed_video(event_video.path)
    moved = tmp_path / "renamed copy.mp4"
    shutil.copy(event_video.path, moved)
    with CountingFrames(model) as counter:
        assert VideoEmbeddingCache(model, cache_dir).is_complete(moved)  # same bytes, new name: hit
        assert counter.calls == 0
    other = tiny_model(seed=3)
    assert VideoEmbeddingCache(other, cache_dir).cached(event_video.path) is None
    assert len(list(cache_dir.glob("*.npy"))) == 1


def test_cancel_then_resume_embeds_only_the_rest(event_video, model, tmp_path: Path) -> None:
    cache_dir = tmp_path / "vcache"
    cache = VideoEmbeddingCache(model, cache_dir)
    cancel = threading.Event()
    import engine.library.video_cache as vc

    old_block = vc.BLOCK_FRAMES
    vc.BLOCK_FRAMES = 4
    try:
        partial = cache.embed_video(event_video.path, progress=lambda done, total: cancel.set() if done >= 4 else None, cancel=cancel)
    finally:
        vc.BLOCK_FRAMES = old_block
    done = np.all(np.isfinite(partial), axis=1)
    assert done.sum() == 4 and done[:4].all()
    on_disk = VideoEmbeddingCache(model, cache_dir).cached(event_video.path)
    assert np.isnan(on_disk[4:]).all() and np.isfinite(on_disk[:4]).all()
    with CountingFrames(model) as counter:
        full = VideoEmbeddingCache(model, cache_dir).embed_video(event_video.path)
    assert counter.frames == 6 and np.all(np.isfinite(full))
    np.testing.assert_array_equal(full[:4], partial[:4])


def test_missing_video_is_a_media_error(model, tmp_path: Path) -> None:
    import pytest

    from engine.errors import MediaError

    with pytest.raises(MediaError, match="cannot read the video"):
        VideoEmbeddingCache(model, tmp_path).embed_video(tmp_path / "gone.mp4")
