"""Cut a sound file into 1-s segments (hop 0.5 s) and turn them into log-mel inputs, in a worker.

``prepare_file`` is what a decoding worker runs: content hash, duration, metadata, decode (up to
``max_seconds``), segments, batched torch log-mel with the level normalisation inside
``engine.data.features`` (identical to training). It never raises: failures come back as a reason.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.config import FeatureCfg
from engine.errors import MediaError

log = logging.getLogger(__name__)

HOP_SECONDS = 0.5
MAX_SECONDS_PER_FILE = 600.0  # only the first 10 minutes of a very long file are indexed
HASH_BLOCK = 1 << 20


@dataclass
class PreparedFile:
    """A decoded file: its metadata and the log-mels of its segments, ready to embed."""

    path: Path
    root: Path
    size: int
    mtime_ns: int
    content_hash: str
    meta: object  # engine.library.metadata.SoundMeta
    hop: float
    mels: np.ndarray  # (n_segments, n_mels, n_frames) float32
    truncated: bool  # longer than max_seconds: only the start was indexed
    audio_seconds: float  # seconds of audio decoded


@dataclass
class FailedFile:
    path: Path
    size: int
    mtime_ns: int
    reason: str


def segment_starts(duration: float, hop: float = HOP_SECONDS, clip: float = 1.0, max_seconds: float = MAX_SECONDS_PER_FILE) -> np.ndarray:
    """Start times of the 1-s windows: ``0, hop, 2*hop, ...`` while a whole window fits; one for short files."""
    usable = min(duration, max_seconds)
    if usable <= clip + 1e-6:
        return np.zeros(1)
    n = int(math.floor((usable - clip) / hop + 1e-6)) + 1
    return np.arange(n) * hop


def content_hash(path: Path) -> str:
    """blake2b-128 of the whole file: unchanged content is never re-embedded, moved files are recognised."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def prepare_file(
    path: Path,
    root: Path,
    size: int,
    mtime_ns: int,
    features: FeatureCfg,
    hop: float = HOP_SECONDS,
    max_seconds: float = MAX_SECONDS_PER_FILE,
    known_hash: str | None = None,
) -> PreparedFile | FailedFile:
    """Decode one file into segment log-mels (see module doc); ``FailedFile`` with a reason on any problem."""
    from engine.data.features import clips_from_wave, log_mel_batch
    from engine.data.media import audio_info, load_audio
    from engine.library.metadata import read_metadata

    try:
        with _decodable(path) as readable:
            digest = known_hash or content_hash(path)
            duration, sr, channels = audio_info(readable)
            wave = load_audio(readable, features.sample_rate, 0.0, min(duration, max_seconds) if duration > 0 else max_seconds)
            decoded = wave.size / features.sample_rate
            if wave.size == 0:
                return FailedFile(path, size, mtime_ns, "no audio samples")
            if duration <= 0:
                duration = decoded
            meta = read_metadata(path, root, duration, sr or features.sample_rate, channels or 1, readable=readable)
        starts = segment_starts(min(duration, decoded), hop, features.clip_seconds, max_seconds)
        clips = clips_from_wave(wave, starts, features)  # (N, samples)
        mels = log_mel_batch(clips, features)  # (N, n_mels, n_frames)
        if not np.all(np.isfinite(mels)):
            return FailedFile(path, size, mtime_ns, "audio produced non-finite features")
    except MediaError as exc:
        return FailedFile(path, size, mtime_ns, _short(str(exc), path))
    except (OSError, ValueError, RuntimeError, MemoryError, EOFError) as exc:
        return FailedFile(path, size, mtime_ns, f"{exc.__class__.__name__}: {exc}")
    except Exception as exc:  # a decoder bug on one file must not stop the whole library
        log.debug("%s: unexpected error", path, exc_info=True)
        return FailedFile(path, size, mtime_ns, f"unexpected error ({exc.__class__.__name__}: {exc})")
    return PreparedFile(path, root, size, mtime_ns, digest, meta, hop, mels, duration > max_seconds, decoded)


@contextmanager
def _decodable(path: Path) -> Iterator[Path]:
    """``path``, or a temporary UTF-8-named symlink to it: libsndfile and FFmpeg reject non-UTF-8 names."""
    try:
        os.fsencode(path).decode("utf-8")
        yield path
        return
    except UnicodeDecodeError:
        pass
    with tempfile.TemporaryDirectory(prefix="foley-index-") as tmp:
        link = Path(tmp) / f"sound{path.suffix.encode('utf-8', 'replace').decode('utf-8', 'replace')}"
        os.symlink(os.path.abspath(path), link)
        yield link


def _short(message: str, path: Path) -> str:
    """A MediaError message without the path prefix (the report shows the path separately)."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def worker_init() -> None:
    """Decoding workers end with their parent and use one thread each (the parent's torch uses the rest)."""
    from engine.lifeline import die_with_parent

    die_with_parent()
    import torch

    torch.set_num_threads(1)
