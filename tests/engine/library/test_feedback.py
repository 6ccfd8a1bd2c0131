"""Relevance feedback (engine.library.feedback) and `foley-engine similar` (search by a recording)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from engine.api import Feedback, FeedbackCfg, Recommender, SoundIndex, loudest_second, sound_vectors
from engine.cli import app
from engine.errors import ConfigError
from engine.library.feedback import embed_sound

runner = CliRunner()


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x)).astype(np.float32)


@pytest.fixture(scope="module")
def rec(indexed: Path, model):
    index = SoundIndex.open(indexed, model.model_id)
    yield Recommender(model, index)
    index.close()


def frame_and_list(rec: Recommender, seed: int = 3) -> tuple[np.ndarray, list]:
    q = unit(np.random.default_rng(seed).normal(size=rec.index.dim))
    return q, rec.for_embedding(q, k=len(rec.files))


def test_without_choices_the_list_is_the_recommenders(rec: Recommender) -> None:
    q, full = frame_and_list(rec)
    fb = Feedback()
    assert [c.path for c in fb.rank(rec, q, 5)] == [c.path for c in full[:5]]
    assert np.array_equal(fb.adapt(q), q)


@pytest.mark.parametrize(("method", "alpha"), [("rerank", 2.0), ("rocchio", 8.0), ("linear", 2.0)])
def test_a_placed_sound_rises_for_the_same_picture(rec: Recommender, method: str, alpha: float) -> None:
    q, full = frame_and_list(rec)
    last = full[-1]  # the sound this picture likes least
    fb = Feedback(FeedbackCfg(method=method, alpha=alpha))
    fb.add(q, sound_vectors(rec, [(last.path, last.start_s)])[0], positive=True)
    got = [c.path for c in fb.rank(rec, q, 3)]
    assert last.path in got, (method, len(full), got)  # from the bottom of the list into the top 3
    assert fb.positives == 1 and fb.negatives == 0 and len(fb) == 1


def test_a_rejected_sound_falls_and_unrelated_pictures_barely_move(rec: Recommender) -> None:
    q, full = frame_and_list(rec)
    top = full[0]
    fb = Feedback(FeedbackCfg(bandwidth=0.05))
    fb.add(q, sound_vectors(rec, [(top.path, top.start_s)])[0], positive=False)
    after = [c.path for c in fb.rank(rec, q, len(rec.files))]
    assert after.index(top.path) > 0
    # a picture unlike q (opposite direction): the choice weighs exp(-2 / 0.05), nothing changes
    other = -q
    assert fb.weights(other)[0] < 1e-12
    assert [c.path for c in fb.rank(rec, other, 5)] == [c.path for c in rec.for_embedding(other, k=5)]
    assert fb.weights(q)[0] == pytest.approx(1.0)


def test_rank_keeps_filters_and_renumbers(rec: Recommender) -> None:
    q, full = frame_and_list(rec)
    fb = Feedback()
    fb.add(q, sound_vectors(rec, [(full[-1].path, 0.0)])[0])
    got = fb.rank(rec, q, 4, include_categories=["ring"])
    assert got and all(c.category == "ring" for c in got)
    assert [c.rank for c in got] == list(range(1, len(got) + 1))
    assert all(0.0 <= c.score <= 1.0 for c in got)


def test_rank_per_segment_keeps_one_row_per_segment(rec: Recommender) -> None:
    q, full = frame_and_list(rec)
    fb = Feedback()
    fb.add(q, sound_vectors(rec, [(full[-1].path, 0.0)])[0])
    got = fb.rank(rec, q, 30, per_segment=True)
    rows = [(c.path, c.start_s) for c in got]
    assert len(rows) == len(set(rows)) and len({c.path for c in got}) < len(rows)  # a file's segments are rows


def test_sound_vectors_come_from_the_index_or_the_file(rec: Recommender, tmp_path: Path) -> None:
    f = next(f for f in rec.files if f.n_segments > 2)
    got = sound_vectors(rec, [(f.path, 0.0), (f.path, f.hop * 2)])
    assert np.allclose(got, rec.index.hnsw.get(np.array([f.label0, f.label0 + 2])))
    outside = tmp_path / "outside.wav"  # not in the library: embedded from the file
    wave, sr = sf.read(str(f.path), dtype="float32")
    sf.write(str(outside), wave * 0.5, sr)
    vec = sound_vectors(rec, [(outside, 0.0)])[0]
    assert np.allclose(vec, embed_sound(rec.model, outside, 0.0), atol=1e-5)


def test_bad_choices_and_settings_are_one_clear_error() -> None:
    fb = Feedback()
    with pytest.raises(ConfigError, match="dimensions"):
        fb.add(np.ones(4), np.ones(5))
    with pytest.raises(ConfigError, match="finite"):
        fb.add(np.full(4, np.nan), np.ones(4))
    with pytest.raises(ConfigError, match="method"):
        FeedbackCfg(method="magic")
    with pytest.raises(ConfigError, match="alpha"):
        FeedbackCfg(alpha=-1)


def test_loudest_second_finds_the_sound_in_a_recording(tmp_path: Path) -> None:
    sr = 48_000
    wave = np.random.default_rng(0).normal(0, 1e-3, 5 * sr).astype(np.float32)
    wave[int(2.5 * sr) : int(3.2 * sr)] += np.sin(np.arange(int(0.7 * sr)) * 0.05).astype(np.float32)
    path = tmp_path / "take.wav"
    sf.write(str(path), wave, sr)
    assert 2.1 <= loudest_second(path) <= 2.6
    short = tmp_path / "short.wav"
    sf.write(str(short), wave[: sr // 2], sr)
    assert loudest_second(short) == 0.0


# -- foley-engine similar ------------------------------------------------------------------------
def test_similar_cli_finds_the_original_of_an_altered_recording(indexed: Path, model_file: Path, rec: Recommender, tmp_path: Path) -> None:
    f = next(f for f in rec.files if f.category == "triangle")
    wave, sr = sf.read(str(f.path), dtype="float32")
    if wave.ndim > 1:
        wave = wave.mean(axis=1)
    noisy = 0.7 * wave + np.random.default_rng(1).normal(0, 0.003, len(wave)).astype(np.float32)
    take = tmp_path / "re-recorded take.wav"
    sf.write(str(take), np.concatenate([np.zeros(sr // 2, np.float32), noisy]), sr)  # half a second of room first
    result = runner.invoke(app, ["similar", str(take), "--top", "3", "--json", "--model", str(model_file), "--db", str(indexed)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["at"] >= 0.3  # the loudest second, not the silence before it
    assert len(data["candidates"]) == 3
    assert str(f.path) in [c["path"] for c in data["candidates"]], data  # the sound it was recorded from
    table = runner.invoke(app, ["similar", str(take), "--at", "0.5", "--model", str(model_file), "--db", str(indexed)])
    assert table.exit_code == 0 and "triangle" in table.output and "at 0.50 s" in table.output


def test_similar_cli_bad_input_is_one_line(indexed: Path, model_file: Path, rec: Recommender, tmp_path: Path) -> None:
    f = rec.files[0]
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not a sound")
    for args, needle in (
        ([str(tmp_path / "missing.wav")], "no such file"),
        ([str(f.path), "--at", "9999"], "past the end"),
        ([str(f.path), "--top", "0"], "--top"),
        ([str(not_audio)], "notes.wav"),
    ):
        result = runner.invoke(app, ["similar", *args, "--model", str(model_file), "--db", str(indexed)])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], result.output


def test_similar_on_the_demo_library_returns_the_same_category(tmp_path: Path) -> None:
    """The shipped model and demo index: altered outside recordings (quieter, noisier, 3 % faster) of
    one sound of every Wesnoth category with 4+ files, each original excluded from the results, find
    other sounds of their category far above chance."""
    from collections import Counter

    from engine.library.paths import default_model_path
    from engine.library.prebuilt import demo_index_path, install_prebuilt
    from engine.models import AVModel
    from engine.resources import demo_library_path

    model_path, artefact, library = default_model_path(), demo_index_path(), demo_library_path()
    if model_path is None or artefact is None or library is None:
        pytest.skip("the shipped model or demo library is not installed")
    model = AVModel.load(model_path).eval()
    result = install_prebuilt(artefact, library, tmp_path / "db", model.model_id)
    if not result.installed:
        pytest.skip(f"the demo index does not fit the shipped model: {result.reason}")
    rng = np.random.default_rng(0)
    with SoundIndex.open(tmp_path / "db", model.model_id, readonly=True) as index:
        rec = Recommender(model, index)
        wes = [f for f in rec.files if "wesnoth" in f.display_path]
        count = Counter(f.category for f in wes)
        cats = sorted(c for c, n in count.items() if n >= 4)
        assert len(cats) >= 10
        precision, chance = [], []
        for cat in cats:
            original = min((f for f in wes if f.category == cat), key=lambda f: f.path.name)
            wave, sr = sf.read(str(original.path), dtype="float32")
            wave = wave.mean(axis=1) if wave.ndim > 1 else wave
            faster = np.interp(np.arange(0, len(wave), 1.03), np.arange(len(wave)), wave).astype(np.float32)
            take = tmp_path / f"my {cat}.wav"
            sf.write(str(take), 0.6 * faster + rng.normal(0, 0.002, len(faster)).astype(np.float32), sr)
            got = rec.similar_to_sound(take, loudest_second(take), k=10, exclude_files={original.path}, path_contains="wesnoth")
            assert len(got) == 10 and original.path not in {c.path for c in got}
            precision.append(sum(c.category == cat for c in got) / 10)
            chance.append((count[cat] - 1) / (len(wes) - 1))
    assert np.mean(precision) > 5 * np.mean(chance), (np.mean(precision), np.mean(chance))
    assert np.mean(np.asarray(precision) > 0) >= 0.5, list(zip(cats, precision))
