"""train-heads with one pretrained tower and one scratch encoder (engine.training.mixed), on generated videos."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from engine.cli import app, main
from engine.data.cache import FeatureCache
from engine.data.features import clips_from_wave, log_mel_batch
from engine.data.media import load_audio
from engine.data.tower_cache import load_tower_features, tower_dir
from engine.errors import ConfigError, DatasetError
from engine.models import AVModel
from engine.presets import get_preset
from engine.training.mixed import head_features, load_mixed_features, mixed_cfg
from tests.engine.labelled_corpus import make_labelled_corpus

N_VIDEOS, SECONDS = 6, 6


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Videos with a shape and its sound each second, their label files, a library, a prepared dataset
    and its tower cache (the real towers: about 30 seconds of footage)."""
    return make_labelled_corpus(tmp_path_factory.mktemp("mixed"), N_VIDEOS, SECONDS, (0.5, 0.25, 0.25))


def _manifest_rows(data: Path) -> dict[tuple[str, int], int]:
    """(video, second) -> manifest row, read straight from manifest.csv."""
    with (data / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return {(r["video_id"], int(r["second"])): int(r["row"]) for r in csv.DictReader(f)}


def _train(corpus, tmp_path: Path, *towers: str) -> Path:
    videos, library, data = corpus
    out = tmp_path / "run"
    args = ["train-heads", "-d", str(data), "--videos", str(videos), "--library", str(library), "-o", str(out),
            "--preset", "m5", "--epochs", "2", "--batch-size", "8", *towers]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "best.pt"


def test_a_scratch_sound_encoder_run_writes_a_model_that_indexes_and_recommends(corpus, tmp_path) -> None:
    from engine.library.indexer import index_library
    from engine.library.scan import scan
    from engine.library.segments import PreparedFile, prepare_file
    from engine.training.heads import library_tower_features

    _, library, data = corpus
    model = AVModel.load(_train(corpus, tmp_path, "--audio-tower", "scratch"))
    small = get_preset("m5", "small")
    assert (model.cfg.vision_tower, model.cfg.audio_tower) == ("efficientnet-lite0", "scratch")
    assert model.cfg.audio_channels == small.audio_channels and model.cfg.image_size == 224
    assert model.features == FeatureCache(data).features  # the dataset's own log-mels, the paper's front end
    assert "ranking" in model.extra and model.extra["reference_audio"].shape[1] == model.cfg.embed_dim
    # a library segment, decoded as the indexer decodes it with this model's front end
    found, _ = scan([library])
    prepared = prepare_file(found[0].path, found[0].root, found[0].size, found[0].mtime_ns, model.features)
    assert isinstance(prepared, PreparedFile) and prepared.mels.shape[1:] == (64, 100)
    emb = model.embed_audio(prepared.mels)
    assert emb.shape == (len(prepared.mels), model.cfg.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # the library task of training embedded the same inputs (no twin of the indexer's front end)
    lib = library_tower_features(library, None, "scratch", model.features)
    seg = np.flatnonzero(lib.seg_file == 0)
    assert lib.feats.shape[1:] == (1, 64, 100)
    np.testing.assert_array_equal(lib.feats[seg, 0], prepared.mels)
    frame = np.zeros((2, 120, 160, 3), np.uint8)
    assert model.embed_frames(frame).shape == (2, model.cfg.embed_dim)
    report = index_library([library], model, tmp_path / "index", workers=0, progress=False)
    assert report.files == len(found) and report.segments == len(lib.seg_file) and not report.skipped
    from engine.library.recommender import Recommender
    from engine.library.sound_index import SoundIndex

    index = SoundIndex.open(tmp_path / "index", model.model_id)
    try:
        rec = Recommender(model, index)
        picks = rec.for_frame(frame[0], k=3)
        assert len(picks) == 3 and all(0.0 <= c.score <= 1.0 for c in picks)
        like = rec.similar_to_sound(found[0].path, k=2)  # "More like this": the scratch sound encoder on the file
        assert len(like) == 2 and found[0].path not in {c.path for c in like}
    finally:
        index.close()


def test_a_scratch_picture_encoder_run_writes_a_model_that_embeds_frames(corpus, tmp_path) -> None:
    model = AVModel.load(_train(corpus, tmp_path, "--vision-tower", "scratch"))
    small = get_preset("m5", "small")
    assert (model.cfg.vision_tower, model.cfg.audio_tower) == ("scratch", "aisfx")
    assert model.cfg.vision_channels == small.vision_channels and model.cfg.image_size == small.image_size == 80
    assert model.features.n_mels == 96  # aisfx's front end
    emb = model.embed_frames(np.zeros((3, 224, 224, 3), np.uint8))
    assert emb.shape == (3, model.cfg.embed_dim) and np.all(np.isfinite(emb))


def test_scratch_inputs_are_the_same_seconds_as_the_cached_tower_features(corpus) -> None:
    """Row i of each stream is one (video, second): the mels and frames come from the manifest row
    the tower cache names, checked against the source video and the picture tower run again."""
    from engine.models.encoders import PretrainedVisionEncoder

    videos, _, data = corpus
    ref = load_tower_features(data)
    cfg = mixed_cfg(get_preset("m5"), "efficientnet-lite0", "scratch")
    tf = load_mixed_features(data, cfg)
    np.testing.assert_array_equal(tf.rows, ref.rows)
    np.testing.assert_array_equal(tf.vision, ref.vision)
    assert tf.audio.shape == (len(tf.rows), 1, 64, 100)
    cache = FeatureCache(data)
    row_of = _manifest_rows(data)
    assert [row_of[(v, int(s))] for v, s in zip(tf.video_ids.tolist(), tf.seconds.tolist())] == tf.rows.tolist()
    # every second's log-mel against its source video decoded by hand
    feats = cache.features
    for vid in sorted(set(tf.video_ids.tolist())):
        at = np.flatnonzero(tf.video_ids == vid)
        wave = load_audio(videos / f"{vid}.mp4", feats.sample_rate)
        want = log_mel_batch(clips_from_wave(wave, tf.seconds[at].astype(np.float64), feats), feats)
        np.testing.assert_allclose(tf.audio[at, 0], want, atol=1e-4)
    # and the picture maps of a few positions against the picture tower run on their frames again
    enc = PretrainedVisionEncoder("efficientnet-lite0").eval()
    pick = np.linspace(0, len(tf.rows) - 1, 3).astype(int)
    x = torch.from_numpy(cache.frames(tf.rows[pick])).permute(0, 3, 1, 2).float().div(255.0)
    maps = enc.tower_features((x - 127 / 255) / (128 / 255)).numpy()
    np.testing.assert_allclose(tf.vision[pick].astype(np.float32), maps, atol=0.05, rtol=0.02)
    # the scratch picture encoder's frames: the cached frame of the row, prepared as embed_frames prepares it
    vcfg = mixed_cfg(get_preset("m5"), "scratch", "aisfx")
    tv = load_mixed_features(data, vcfg)
    np.testing.assert_array_equal(tv.rows, ref.rows)
    np.testing.assert_array_equal(tv.audio, ref.audio)
    model = AVModel(vcfg, head_features(vcfg))
    want = model.prepare_frames(torch.from_numpy(cache.frames(tv.rows[pick]))).numpy()
    assert tv.vision.shape == (len(tv.rows), 3, 80, 80)
    np.testing.assert_allclose(tv.vision[pick].astype(np.float32), want, atol=2e-2)


def test_a_tower_cache_that_names_other_seconds_is_refused(corpus, tmp_path) -> None:
    _, _, data = corpus
    copy = tmp_path / "data"
    shutil.copytree(data, copy, symlinks=True)
    folder = tower_dir(copy)
    a, b = sorted(folder.glob("*.npz"))[:2]
    with np.load(a) as fa, np.load(b) as fb:
        swapped = {"rows": fb["rows"][: len(fa["rows"])], "vision": fa["vision"], "audio": fa["audio"]}
    np.savez(a, **swapped)  # video a's features filed under video b's rows (a dataset prepared again)
    cfg = mixed_cfg(get_preset("m5"), "efficientnet-lite0", "scratch")
    with pytest.raises(DatasetError, match="its rows are not the seconds of video"):
        load_mixed_features(copy, cfg)
    with pytest.raises(DatasetError, match="run cache-towers again"):
        load_tower_features(copy)


def test_two_scratch_towers_are_refused_in_one_line(corpus, tmp_path, monkeypatch, capsys) -> None:
    videos, library, data = corpus
    args = ["foley-engine", "train-heads", "-d", str(data), "--videos", str(videos), "--library", str(library),
            "-o", str(tmp_path / "run"), "--vision-tower", "scratch", "--audio-tower", "scratch"]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "foley-engine train" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="--hidden"):
        mixed_cfg(get_preset("m5"), "efficientnet-lite0", "scratch", hidden=64)
    with pytest.raises(ConfigError, match="unknown picture tower"):
        mixed_cfg(get_preset("m5"), "resnet", "scratch")
