"""AVModel contract: shapes and values of every entry point, the model file and its errors."""

from __future__ import annotations

import math
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import FeatureCfg, to_dict
from engine.errors import CheckpointError, EngineError
from engine.models import AVModel
from engine.models.model_file import FORMAT
from engine.presets import get_preset

TINY = dict(vision_channels=(4, 8, 8, 16), audio_channels=(4, 8, 8, 16), image_size=32, fc_hidden=32)


def tiny(preset: str = "m5", **kw) -> AVModel:
    torch.manual_seed(0)
    return AVModel(replace(get_preset(preset), **{**TINY, **kw}))


def frames(n: int, h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def mels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-5, 2, (n, 64, 100)).astype(np.float32)


def test_prepare_frames_resizes_and_normalises() -> None:
    m = tiny()
    x = m.prepare_frames(torch.full((2, 50, 70, 3), 255, dtype=torch.uint8))
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    # white -> (1 - mean) / std per channel
    expected = [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    assert x[0, :, 5, 5].tolist() == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="uint8 RGB"):
        m.prepare_frames(torch.zeros(2, 32, 32, 3))


def test_encode_gives_unit_embeddings_and_loss() -> None:
    for preset in ("m1", "m3", "m5"):
        m = tiny(preset).train()
        ev, ea = m.encode(torch.from_numpy(frames(4)), torch.from_numpy(mels(4)))
        assert ev.shape == ea.shape == (4, 128)
        assert torch.allclose(ev.norm(dim=-1), torch.ones(4), atol=1e-5)
        assert torch.allclose(ea.norm(dim=-1), torch.ones(4), atol=1e-5)
        m.eval()
        assert all(torch.equal(a, b) for a, b in zip(m(torch.from_numpy(frames(2)), torch.from_numpy(mels(2))), m.encode(torch.from_numpy(frames(2)), torch.from_numpy(mels(2)))))
        m.train()
        labels = None if m.cfg.contrastive else torch.tensor([1.0, 0.0, 1.0, 0.0])
        loss, logits = m.loss(ev, ea, labels)
        assert loss.ndim == 0 and torch.isfinite(loss)
        assert (logits is None) == m.cfg.contrastive
        if logits is not None:
            assert torch.equal(logits, m.correlation_logits(ev, ea))


def test_correlation_logits_contrastive_uses_threshold() -> None:
    m = tiny("m5")
    ev = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    ea = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    m.threshold.fill_(1.0)
    # threshold - distance: 1 - 0.894427 ; 1 - 1.414214
    assert m.correlation_logits(ev, ea).tolist() == pytest.approx([0.105573, -0.414214], abs=1e-5)


def test_distance_classifier_sign() -> None:
    m = tiny("m1")
    e = torch.nn.functional.normalize(torch.randn(3, 128), dim=-1)
    near = m.correlation_logits(e, e)  # distance 0
    far = m.correlation_logits(e, -e)  # distance 2
    assert (near > 0).all() and (far < 0).all()
    assert m.projector.fc.weight.item() < 0
    assert m.projector.threshold == pytest.approx(math.sqrt(2.0), abs=1e-6)


def test_embed_entry_points_shapes_dtypes_and_eval_mode() -> None:
    m = tiny("m5").train()
    big = frames(3, 300, 400)
    out = m.embed_frames(big, batch_size=2)
    assert out.shape == (3, 128) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert m.training, "embedding must restore the training mode"
    # batched == one at a time (eval mode: BatchNorm uses running statistics)
    one = np.concatenate([m.embed_frames(big[i : i + 1]) for i in range(3)])
    assert np.allclose(out, one, atol=1e-5)
    assert m.embed_frames(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 128)
    cached = frames(2, 224, 224)  # cache-sized frames: numpy and torch inputs take the same path
    assert np.array_equal(m.embed_frames(cached), m.embed_frames(torch.from_numpy(cached)))
    assert np.allclose(m.embed_frames(cached[0]), m.embed_frames(cached)[:1], atol=1e-6)  # one (H, W, 3) frame
    a = m.embed_audio(mels(5), batch_size=2)
    assert a.shape == (5, 128) and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    t = np.linspace(0, 1, 48000, endpoint=False, dtype=np.float32)
    clips = np.stack([0.1 * np.sin(2 * np.pi * f * t) for f in (220.0, 880.0, 3000.0)]).astype(np.float32)
    w = m.embed_waveforms(clips, batch_size=2)
    assert w.shape == (3, 128)
    assert not np.allclose(w[0], w[2], atol=1e-3), "different sounds must give different embeddings"


def test_attention_maps_per_level_sum_to_one() -> None:
    m = tiny("m5")
    maps = m.attention_maps(frames(1, 90, 120)[0])
    # 32x32 input, pools after blocks 1-3: the last three blocks are 16x16, 8x8, 4x4
    assert [a.shape for a in maps] == [(16, 16), (8, 8), (4, 4)]
    for a in maps:
        assert a.dtype == np.float32 and a.min() >= 0 and a.sum() == pytest.approx(1.0, abs=1e-5)
    amaps = m.audio_attention_maps(mels(1)[0])
    assert [a.shape for a in amaps] == [(32, 50), (16, 25), (8, 12)]
    assert tiny("m1").attention_maps(frames(1)[0]) == []


def test_save_load_bit_identical(tmp_path: Path) -> None:
    m = tiny("m3")
    m.train()
    m.encode(torch.from_numpy(frames(4)), torch.from_numpy(mels(4)))  # move BatchNorm statistics
    m.threshold.fill_(0.77)
    f, a = frames(3), mels(3)
    path = tmp_path / "sub" / "model.pt"
    m.save(path, extra={"epoch": 3, "metrics": {"acc": 0.9}, "hist": [1, 2.5], "t": torch.ones(2)})
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"], "no temp files left behind"
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    m2 = AVModel.load(path)
    assert torch.equal(torch.rand(1), expected), "loading must not consume the caller's RNG"
    assert not m2.training
    assert m2.cfg == m.cfg and m2.features == m.features
    assert m2.model_id == m.model_id
    assert m2.extra["epoch"] == 3 and m2.extra["metrics"] == {"acc": 0.9}
    assert m2.threshold.item() == pytest.approx(0.77)
    assert np.array_equal(m2.embed_frames(f), m.embed_frames(f))
    assert np.array_equal(m2.embed_audio(a), m.embed_audio(a))


def test_save_refuses_unstorable_extra(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot be stored"):
        tiny().save(tmp_path / "m.pt", extra={"path": Path("/x")})
    assert not (tmp_path / "m.pt").exists()


def test_model_id_tracks_weights_not_threshold() -> None:
    m = tiny("m5")
    mid = m.model_id
    assert len(mid) == 16 and int(mid, 16) >= 0
    assert tiny("m5").model_id == mid, "same seed, same weights, same id"
    m.threshold.fill_(0.5)
    assert m.model_id == mid
    with torch.no_grad():
        m.vision.project.weight[0, 0] += 1e-3
    assert m.model_id != mid
    m2 = tiny("m5")
    m2.train()
    m2.encode(torch.from_numpy(frames(2)), torch.from_numpy(mels(2)))  # BatchNorm running stats change
    assert m2.model_id != mid


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        AVModel.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a model" * 10)
    with pytest.raises(CheckpointError, match="not a readable model file"):
        AVModel.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.ones(1)}}, other)
    with pytest.raises(CheckpointError, match="not a Foley Assistant model file"):
        AVModel.load(other)

    m = tiny("m5")
    good = m.payload()
    newer = tmp_path / "newer.pt"
    torch.save({**good, "version": 99}, newer)
    with pytest.raises(CheckpointError, match="format version 99"):
        AVModel.load(newer)

    mismatch = tmp_path / "mismatch.pt"
    torch.save({**good, "model_cfg": to_dict(replace(m.cfg, vision_channels=(4, 8, 8, 32)))}, mismatch)
    with pytest.raises(CheckpointError, match="do not match its config"):
        AVModel.load(mismatch)

    badcfg = tmp_path / "badcfg.pt"
    torch.save({**good, "model_cfg": {**to_dict(m.cfg), "encoder": "transformer"}}, badcfg)
    with pytest.raises(CheckpointError, match="config cannot be used"):
        AVModel.load(badcfg)

    tampered = tmp_path / "tampered.pt"
    sd = dict(good["state_dict"])
    sd["projector.fc.bias"] = sd["projector.fc.bias"] + 1
    torch.save({**good, "state_dict": sd}, tampered)
    with pytest.raises(CheckpointError, match="damaged"):
        AVModel.load(tampered)
    assert issubclass(CheckpointError, EngineError)


class _Evil:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_pickle_is_refused_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    m = tiny("m5")
    for i, writer in enumerate(("torch", "pickle")):
        path = tmp_path / f"evil{i}.pt"
        obj = {**m.payload(), "extra": {"x": _Evil(marker)}}
        if writer == "torch":
            torch.save(obj, path)
        else:
            path.write_bytes(pickle.dumps(obj))
        with pytest.raises(CheckpointError):
            AVModel.load(path)
        assert not marker.exists(), f"loading a {writer} pickle ran code"


def test_training_checkpoint_embedding_the_payload_loads(tmp_path: Path) -> None:
    m = tiny("m1")
    path = tmp_path / "ckpt.pt"
    torch.save({"model": m.payload({"epoch": 1}), "optimizer": {"lr": 0.1}}, path)
    assert AVModel.load(path).model_id == m.model_id


def test_features_are_stored(tmp_path: Path) -> None:
    feats = FeatureCfg(level_norm=False)
    m = AVModel(replace(get_preset("m1"), **TINY), feats)
    m.save(tmp_path / "m.pt")
    assert AVModel.load(tmp_path / "m.pt").features == feats
    assert AVModel.load(tmp_path / "m.pt").payload()["format"] == FORMAT


def test_channels_last_is_a_layout_not_a_different_model() -> None:
    torch.manual_seed(0)
    a = AVModel(replace(get_preset("m2"), **TINY))
    torch.manual_seed(0)
    b = AVModel(replace(get_preset("m2"), **TINY), channels_last=False)
    conv = a.vision.trunk.blocks[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert a.model_id == b.model_id
    f, mel = frames(3), mels(3)
    assert np.allclose(a.embed_frames(f), b.embed_frames(f), atol=1e-5)
    assert np.allclose(a.embed_audio(mel), b.embed_audio(mel), atol=1e-5)
