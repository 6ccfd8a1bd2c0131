"""Bad sound files: ``load_audio`` decodes them correctly or raises ``MediaError``; indexing skips
each unusable one with a reason, indexes the rest, and a fuzzed file never gets another exception."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.media import audio_info, load_audio
from engine.data.synthetic import SR, event_sound
from engine.errors import MediaError
from engine.library.indexer import index_library

from .conftest import FUZZ_EXAMPLES, tiny_model

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
WAVE = event_sound("circle", 1.5, SR)  # the reference signal every decodable file holds


def _wav_bytes(subtype: str = "PCM_16", sr: int = SR, channels: int = 1, fmt: str = "WAV") -> bytes:
    import io

    buf = io.BytesIO()
    data = np.repeat(WAVE[:, None], channels, axis=1) if channels > 1 else WAVE
    if sr != SR:
        from engine.data.media import resample

        data = resample(WAVE, SR, sr)
    sf.write(buf, data, sr, subtype=subtype, format=fmt)
    return buf.getvalue()


def _huge_header() -> bytes:
    """A PCM WAV whose RIFF and data chunk sizes claim ~4 GB; 1.5 s of samples follow."""
    raw = bytearray(_wav_bytes())
    data_at = raw.index(b"data")
    raw[4:8] = struct.pack("<I", 0xFFFFFFF0)
    raw[data_at + 4 : data_at + 8] = struct.pack("<I", 0xFFFFFFE0)
    return bytes(raw)


# name -> (bytes, expected): "ok" decodes to the reference signal; "error" raises MediaError;
# "partial" either decodes a prefix of the signal or raises MediaError.
DECODABLE = {
    "pcm16.wav": lambda: _wav_bytes("PCM_16"),
    "pcm24.wav": lambda: _wav_bytes("PCM_24"),
    "pcm32.wav": lambda: _wav_bytes("PCM_32"),
    "u8.wav": lambda: _wav_bytes("PCM_U8"),
    "float32.wav": lambda: _wav_bytes("FLOAT"),
    "float64.wav": lambda: _wav_bytes("DOUBLE"),
    "ulaw.wav": lambda: _wav_bytes("ULAW"),
    "alaw.wav": lambda: _wav_bytes("ALAW"),
    "ima_adpcm.wav": lambda: _wav_bytes("IMA_ADPCM"),
    "six_channels.wav": lambda: _wav_bytes("PCM_16", channels=6),
    "8k.wav": lambda: _wav_bytes("PCM_16", sr=8000),
    "192k.wav": lambda: _wav_bytes("PCM_24", sr=192_000),
    "flac_named.wav": lambda: _wav_bytes("PCM_16", fmt="FLAC"),
    "wav_named.mp3": lambda: _wav_bytes("PCM_16"),
    "wav_named.flac": lambda: _wav_bytes("PCM_16"),
    "aiff.aiff": lambda: _wav_bytes("PCM_16", fmt="AIFF"),
    "ogg.ogg": lambda: _wav_bytes("VORBIS", fmt="OGG"),
}
BROKEN = {
    "zero.wav": lambda: b"",
    "text.wav": lambda: b"this is a shopping list, not a sound\n" * 20,
    "png.wav": lambda: PNG,
    "png.flac": lambda: PNG,
    "riff_only.wav": lambda: b"RIFF\x24\x00\x00\x00WAVE",
    "garbage.ogg": lambda: bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
    "zero_bits.wav": lambda: _wav_bytes()[:34] + b"\x00" + _wav_bytes()[35:],  # found by the fuzz test: FFmpeg has no decoder
}
PARTIAL = {
    "truncated.wav": lambda: _wav_bytes()[: 44 + 2 * SR // 2],  # half a second of the promised 1.5 s
    "truncated.flac": lambda: _wav_bytes(fmt="FLAC")[:3000],
    "huge_header.wav": _huge_header,
    "header_only.wav": lambda: _wav_bytes()[:44],  # a valid header and no samples: decodes to nothing
}


def _write(folder: Path, table: dict) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in table.items():
        (folder / name).write_bytes(make())
        out[name] = folder / name
    return out


def _close_to_reference(wave: np.ndarray, name: str) -> None:
    assert wave.dtype == np.float32 and wave.ndim == 1 and np.all(np.isfinite(wave)), name
    n = min(len(wave), len(WAVE))
    assert abs(len(wave) - len(WAVE)) < SR // 20, (name, len(wave))
    corr = np.corrcoef(wave[:n], WAVE[:n])[0, 1]
    assert corr > 0.9, (name, corr)  # lossy codecs (u-law, ADPCM, Vorbis) and resampling included


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    root = tmp_path_factory.mktemp("bad-sounds") / "library"
    return {"ok": _write(root / "ok", DECODABLE), "error": _write(root / "broken", BROKEN), "partial": _write(root / "partial", PARTIAL)}


def test_decodable_formats_decode_to_the_signal(corpus) -> None:
    for name, path in corpus["ok"].items():
        _close_to_reference(load_audio(path, SR), name)
        duration, sr, channels = audio_info(path)
        assert abs(duration - 1.5) < 0.05 and sr > 0 and channels >= 1, name


def test_broken_files_raise_media_error_naming_the_file(corpus) -> None:
    for name, path in corpus["error"].items():
        with pytest.raises(MediaError) as info:
            load_audio(path, SR)
        assert name in str(info.value) and len(str(info.value)) > len(str(path)) + 5, str(info.value)


def test_truncated_and_lying_headers_decode_what_is_there_or_raise_media_error(corpus) -> None:
    for name, path in corpus["partial"].items():
        try:
            wave = load_audio(path, SR)
        except MediaError as exc:
            assert name in str(exc)
            continue
        assert wave.dtype == np.float32 and np.all(np.isfinite(wave)) and len(wave) <= len(WAVE) + SR // 10, (name, len(wave))
        if name == "header_only.wav":
            assert len(wave) == 0
            continue
        n = min(len(wave), len(WAVE))
        assert np.corrcoef(wave[:n], WAVE[:n])[0, 1] > 0.9, name  # a prefix of the real signal, not noise


def test_index_skips_each_bad_file_with_a_reason_and_indexes_the_rest(corpus, tmp_path: Path) -> None:
    root = corpus["ok"]["pcm16.wav"].parents[1]
    report = index_library([root], tiny_model(0), tmp_path / "db", workers=0, progress=False)
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    indexed = report.files
    assert set(corpus["error"]) <= set(skipped), skipped
    assert all(reason.strip() for reason in skipped.values())
    assert not set(corpus["ok"]) & set(skipped), skipped
    assert indexed == len(corpus["ok"]) + sum(name not in skipped for name in corpus["partial"])
    assert skipped["zero.wav"] == "empty file (0 bytes)" and skipped["header_only.wav"] == "no audio samples"


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=6),
    suffix=st.sampled_from([".wav", ".flac", ".mp3", ".ogg", ".aiff"]),
    base=st.sampled_from(["PCM_16", "FLOAT", "ULAW", "FLAC"]),
)
def test_fuzzed_sound_files_decode_or_raise_media_error(tmp_path: Path, cut: int, flips, suffix: str, base: str) -> None:
    raw = bytearray(_wav_bytes("PCM_16", fmt="FLAC") if base == "FLAC" else _wav_bytes(base))
    for at, value in flips:  # damage the header, where the decoder's decisions are made
        raw[at % len(raw)] = value
    if cut:  # and cut the end off
        del raw[max(0, len(raw) - cut * 37) :]
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(bytes(raw))
    try:
        wave = load_audio(path, SR, duration=5.0)
    except MediaError:
        return
    assert wave.dtype == np.float32 and wave.ndim == 1 and len(wave) <= 5 * SR + 1


def test_an_unexpected_decoder_error_skips_one_file_not_the_library(corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.data.media as media

    real = media.load_audio

    def flaky(path, *args, **kwargs):
        if Path(path).name == "pcm24.wav":
            raise AttributeError("'NoneType' object has no attribute 'sample_rate'")  # what the fuzz test found
        return real(path, *args, **kwargs)

    monkeypatch.setattr(media, "load_audio", flaky)
    report = index_library([corpus["ok"]["pcm16.wav"].parent], tiny_model(0), tmp_path / "db", workers=0, progress=False)
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert set(skipped) == {"pcm24.wav"} and "unexpected error (AttributeError" in skipped["pcm24.wav"]
    assert report.files == len(corpus["ok"]) - 1
