"""Small real media files with synchronized sound events, for tests, benchmarks and smoke runs.

Each event class is a coloured shape on screen and its own sound (a tone with a distinct pitch and
envelope). In a generated video, during second ``k`` the shape of ``events[k]`` is visible and its
sound plays, so frame ``k`` (at ``k + 0.5`` s) and audio second ``k`` belong together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.config import FeatureCfg

SR = 48_000

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "bar", "cross", "ring")
_COLOURS = {  # RGB
    "circle": (230, 60, 50),
    "square": (60, 200, 80),
    "triangle": (70, 110, 240),
    "bar": (240, 220, 40),
    "cross": (220, 80, 220),
    "ring": (40, 220, 220),
}
_PITCH = {"circle": 220.0, "square": 440.0, "triangle": 880.0, "bar": 1760.0, "cross": 3520.0, "ring": 7040.0}


@dataclass(frozen=True)
class SyntheticVideo:
    path: Path
    events: tuple[str | None, ...]  # per second: the class shown and heard, or None (blank, silent)


def event_sound(name: str, seconds: float = 1.0, sr: int = SR, variant: int = 0) -> np.ndarray:
    """The sound of one event class: a harmonic tone at its pitch with a sharp attack ("click") and decay."""
    n = int(round(seconds * sr))
    t = np.arange(n, dtype=np.float64) / sr
    f0 = _PITCH[name] * (1.0 + 0.03 * variant)
    tone = np.sin(2 * np.pi * f0 * t) + 0.4 * np.sin(2 * np.pi * 2 * f0 * t + 0.3)
    onset = 0.05
    env = np.where(t < onset, 0.0, np.exp(-(t - onset) * (3.0 + 2.0 * CLASSES.index(name))))
    click = np.zeros(n)
    i0 = int(onset * sr)
    click[i0 : i0 + 48] = np.hanning(96)[48:] * 0.8
    return (0.5 * tone * env + click).astype(np.float32)


def draw_shape(img: np.ndarray, name: str, cx: float, cy: float, r: float) -> None:
    """Draw an event's shape in place on an RGB uint8 image."""
    import cv2

    colour = _COLOURS[name]
    c, ri = (int(cx), int(cy)), int(r)
    if name == "circle":
        cv2.circle(img, c, ri, colour, -1)
    elif name == "square":
        cv2.rectangle(img, (c[0] - ri, c[1] - ri), (c[0] + ri, c[1] + ri), colour, -1)
    elif name == "triangle":
        pts = np.array([[c[0], c[1] - ri], [c[0] - ri, c[1] + ri], [c[0] + ri, c[1] + ri]], np.int32)
        cv2.fillPoly(img, [pts], colour)
    elif name == "bar":
        cv2.rectangle(img, (c[0] - 2 * ri, c[1] - ri // 3), (c[0] + 2 * ri, c[1] + ri // 3), colour, -1)
    elif name == "cross":
        cv2.line(img, (c[0] - ri, c[1] - ri), (c[0] + ri, c[1] + ri), colour, max(3, ri // 3))
        cv2.line(img, (c[0] - ri, c[1] + ri), (c[0] + ri, c[1] - ri), colour, max(3, ri // 3))
    elif name == "ring":
        cv2.circle(img, c, ri, colour, max(3, ri // 4))


def write_video(
    path: Path | str,
    events: Sequence[str | None],
    *,
    size: tuple[int, int] = (160, 120),
    fps: int = 10,
    seed: int = 0,
    audio: bool = True,
    codec: str = "libx264",
    rotation: int = 0,
    seconds: float | None = None,
) -> SyntheticVideo:
    """Write an mp4/mkv with one event (or nothing) per second; returns its path and events.

    ``size`` is (width, height); odd sizes are allowed (encoded as yuv444p for H.264 then).
    ``rotation`` sets the display-matrix rotation a phone would write (90/180/270).
    ``seconds`` cuts (or blank-extends) the file to that length, e.g. 0.5 for a too-short video.
    """
    import av

    path = Path(path)
    rng = np.random.default_rng(seed)
    w, h = size
    length = float(len(events) if seconds is None else seconds)
    n_sec = int(np.ceil(length))
    events = list(events)[:n_sec] + [None] * max(0, n_sec - len(events))
    wave = np.zeros(n_sec * SR, np.float32)
    for k, ev in enumerate(events):
        if ev is not None:
            wave[k * SR : (k + 1) * SR] = event_sound(ev, 1.0, SR, variant=int(rng.integers(0, 3)))
    wave = wave[: int(round(length * SR))]
    wave += rng.normal(0, 0.003, wave.shape).astype(np.float32)  # a little room noise
    odd = (w % 2) or (h % 2)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = w, h
        vs.pix_fmt = "yuv444p" if odd and codec == "libx264" else "yuv420p"
        vs.options = {"g": str(fps)} if codec == "libx264" else {}
        if rotation:  # a phone's "rotate" tag: turn the picture this many degrees clockwise for display
            vs.set_display_rotation(-float(rotation))
        if audio:
            aus = add_mono_audio_stream(out)
        positions = {k: (rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h) for k in range(n_sec)}
        for i in range(int(round(length * fps))):
            k = i // fps
            img = np.full((h, w, 3), 24, np.uint8)
            if events[k] is not None:
                draw_shape(img, events[k], *positions[k], r=min(w, h) * 0.22)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if audio:
            mux_mono_audio(out, aus, wave)
    return SyntheticVideo(path, tuple(events))


def add_mono_audio_stream(out):  # (out: av.container.OutputContainer) -> av.AudioStream
    """An AAC mono stream at ``SR`` in ``out`` (add every stream before muxing the first packet)."""
    aus = out.add_stream("aac", rate=SR)
    aus.layout = "mono"
    return aus


def mux_mono_audio(out, stream, wave: np.ndarray) -> None:
    """Encode a mono float32 ``wave`` at ``SR`` into ``stream`` of ``out`` in 1024-sample frames, then flush it."""
    import av

    for j in range(0, wave.size, 1024):
        af = av.AudioFrame.from_ndarray(wave[None, j : j + 1024], format="flt", layout="mono")
        af.sample_rate, af.pts, af.time_base = SR, j, Fraction(1, SR)
        for packet in stream.encode(af):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_timed_video(path: Path | str, stamps_ms: Sequence[int], audio_seconds: int = 0) -> Path:
    """H.264 with frames at the given times in ms (variable frame rate; frame i is grey level 20*i), and
    with ``audio_seconds`` > 0 an AAC track of that many "circle" events. For frame-choice tests."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1000)
        aus = add_mono_audio_stream(out) if audio_seconds else None
        for i, t in enumerate(stamps_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if aus is not None:
            mux_mono_audio(out, aus, np.concatenate([event_sound("circle", 1.0, SR) for _ in range(audio_seconds)]))
    return path


def random_events(n_seconds: int, seed: int = 0, classes: Sequence[str] = CLASSES, silent_ratio: float = 0.0) -> list[str | None]:
    """A seeded sequence of events, one per second, some seconds silent."""
    rng = np.random.default_rng(seed)
    out: list[str | None] = []
    for _ in range(n_seconds):
        out.append(None if rng.random() < silent_ratio else str(rng.choice(list(classes))))
    return out


def write_sound_library(root: Path | str, classes: Sequence[str] = CLASSES, per_class: int = 2, seconds: float = 1.5) -> list[Path]:
    """A folder-per-category library of WAV files, one sound per class variant."""
    import soundfile as sf

    root = Path(root)
    paths = []
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for v in range(per_class):
            p = folder / f"{name}_{v:02d}.wav"
            sf.write(str(p), event_sound(name, seconds, SR, variant=v), SR, subtype="PCM_16")
            paths.append(p)
    return paths


def write_feature_cache(
    root: Path | str,
    n_videos: int = 6,
    seconds: int | Sequence[int] = 12,
    *,
    splits: Sequence[str] | None = None,
    labelled: bool = True,
    silent_ratio: float = 0.2,
    seed: int = 0,
) -> Path:
    """A small prepared dataset written straight from synthetic events (no video decoding), for tests.

    Second k of video v shows event k's shape (frame, ``image_size`` square) and holds its sound
    (log-mel via ``log_mel_batch``): a learnable correlation. Video v is labelled with class
    ``v % len(CLASSES)`` and half its events are of that class. ``splits`` gives one split per video
    (default: 60 % train, 20 % val, 20 % test, at least one video each when there are three).
    """
    from engine.config import FeatureCfg, to_dict
    from engine.data.cache import ManifestRow, write_index

    cfg = FeatureCfg()
    root = Path(root)
    (root / "shards").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = [seconds] * n_videos if isinstance(seconds, int) else list(seconds)
    if splits is None:
        n_test = max(1, round(0.2 * n_videos)) if n_videos >= 3 else 0
        n_val = max(1, round(0.2 * n_videos)) if n_videos >= 3 else 0
        splits = ["train"] * (n_videos - n_val - n_test) + ["val"] * n_val + ["test"] * n_test
    rows: list[ManifestRow] = []
    for v, (n, split) in enumerate(zip(lengths, splits)):
        video_id = f"vid{v:03d}"
        label = CLASSES[v % len(CLASSES)] if labelled else ""
        events = [None if rng.random() < silent_ratio else (label if labelled and rng.random() < 0.5 else str(rng.choice(CLASSES))) for _ in range(n)]
        name, levels = write_feature_shard(root, video_id, events, rng, cfg, noise=1e-4)
        for k in range(n):
            rows.append(ManifestRow(len(rows), video_id, k, label, split, float(levels[k]), name, k))
    write_index(root, rows, {"features": to_dict(cfg), "source": "synthetic.write_feature_cache", "seed": seed})
    return root


def write_feature_shard(root: Path, video_id: str, events: Sequence[str | None], rng: np.random.Generator,
                        cfg: FeatureCfg, noise: float = 1e-4) -> tuple[str, np.ndarray]:
    """Write one synthetic video's shard (frames, log-mels, levels) into a cache; ``(shard name, levels)``.

    Second k shows ``events[k]``'s shape at a random position and holds its sound; ``None`` is blank
    and silent. Room noise of standard deviation ``noise`` is added to the whole track.
    """
    from engine.data.cache import commit_shard, new_shard_tmp, shard_name
    from engine.data.features import clips_from_wave, log_mel_batch, rms

    n, s = len(events), cfg.image_size
    wave = np.zeros(n * SR, np.float32)
    frames = np.full((n, s, s, 3), 24, np.uint8)
    for k, ev in enumerate(events):
        if ev is not None:
            wave[k * SR : (k + 1) * SR] = event_sound(ev, 1.0, SR, variant=int(rng.integers(0, 3)))
            draw_shape(frames[k], ev, rng.uniform(0.3, 0.7) * s, rng.uniform(0.3, 0.7) * s, s * 0.22)
    wave += rng.normal(0, noise, wave.shape).astype(np.float32)
    clips = clips_from_wave(wave, np.arange(n), cfg)
    levels = rms(clips).astype(np.float32)
    name = shard_name(video_id)
    tmp = new_shard_tmp(Path(root), name)
    np.save(tmp / "frames.npy", frames)
    np.save(tmp / "mels.npy", log_mel_batch(clips, cfg))
    np.save(tmp / "rms.npy", levels)
    commit_shard(Path(root), name, tmp, {"video_id": video_id, "seconds": n, "events": [e or "" for e in events]})
    return name, levels

