"""aisfx-small: the distilled sound tower, its shipped weights, their fingerprint, and the distillation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.config import ModelCfg
from engine.data.features import log_mel_batch
from engine.errors import CheckpointError
from engine.models import AVModel
from engine.models.towers import (
    AISFX_DIM,
    AisfxNet,
    AisfxSmall,
    AisfxSmallTrunk,
    aisfx_features,
    build_tower,
    features_for,
    load_student_state,
    student_weights_path,
    tower_fingerprint,
    weights_fingerprint,
)
from engine.training.distill import (
    DistillCfg,
    DistillData,
    distill,
    distill_loss,
    mean_cosine,
    mix_windows,
    save_student,
    teacher_embed,
)

SMALL = replace(ModelCfg(), vision_tower="efficientnet-lite0", audio_tower="aisfx-small", loss="infonce",
                projector="linear", image_size=224, head_dropout=0.2)


def generated_clips() -> np.ndarray:
    sr = 44_100
    t = np.arange(sr) / sr
    rng = np.random.default_rng(0)
    return np.stack([
        0.5 * np.sin(2 * np.pi * 440 * t),
        rng.standard_normal(sr) * 0.3,
        0.4 * np.sin(2 * np.pi * 80 * t) * (t < 0.2),  # a short low thump
        rng.standard_normal(sr) * 0.2 * np.exp(-5 * t),  # a decaying burst
    ]).astype(np.float32)


def test_the_student_maps_aisfx_mels_to_its_512_dimensions_in_a_fraction_of_the_work():
    from torch.utils.flop_counter import FlopCounterMode

    mels = torch.rand(3, 1, 96, 43) * 5
    net = AisfxSmall().eval()
    with torch.no_grad():
        out = net(mels)
    assert out.shape == (3, AISFX_DIM) and torch.isfinite(out).all()
    with FlopCounterMode(display=False) as small:
        net(mels[:1])
    with FlopCounterMode(display=False) as big:
        AisfxNet().eval()(mels[:1])
    assert small.get_total_flops() * 10 < big.get_total_flops()


def test_the_shipped_student_reproduces_aisfx_on_sounds_it_never_saw():
    """Generated tones and noise (not in its training data): close to aisfx in direction and size."""
    assert student_weights_path().is_file()
    mels = torch.from_numpy(log_mel_batch(generated_clips(), aisfx_features())).unsqueeze(1)
    with torch.no_grad():
        teacher, student = build_tower("aisfx")(mels), build_tower("aisfx-small")(mels)
    cos = torch.nn.functional.cosine_similarity(teacher, student, dim=1)
    assert float(cos.mean()) > 0.8, cos
    ratio = student.norm(dim=1) / teacher.norm(dim=1)
    assert ((ratio > 0.6) & (ratio < 1.5)).all(), ratio
    assert not any(p.requires_grad for p in build_tower("aisfx-small").parameters())


def test_the_student_is_fingerprinted_and_a_model_on_it_checks_the_installed_weights(tmp_path):
    assert tower_fingerprint("aisfx-small") == weights_fingerprint(load_student_state())
    assert tower_fingerprint("aisfx-small") != tower_fingerprint("aisfx")
    model = AVModel(SMALL, features_for("efficientnet-lite0", "aisfx-small"))
    assert model.features == features_for("efficientnet-lite0", "aisfx")  # the same front end as aisfx
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = AVModel.load(path)
    assert loaded.model_id == model.model_id
    emb = loaded.embed_waveforms(generated_clips()[:2])
    assert emb.shape == (2, 128)
    payload = model.payload()
    payload["state_dict"]["audio.tower_sig"] = (payload["state_dict"]["audio.tower_sig"] + 1).to(torch.uint8)
    from engine.models.model_file import weights_hash

    payload["model_id"] = weights_hash(payload["state_dict"])
    with pytest.raises(CheckpointError, match="other tower weights"):
        AVModel.from_payload(payload, "edited.pt")


class _NotATensor:
    pass


@pytest.mark.parametrize("tamper", ["missing key", "wrong shape", "pickled object", "garbage"])
def test_the_loader_refuses_a_tampered_weights_file(tmp_path, tamper):
    state = AisfxSmall().state_dict()
    path = tmp_path / "w.pt"
    if tamper == "missing key":
        state.pop("out.bias")
        torch.save(state, path)
    elif tamper == "wrong shape":
        state["out.weight"] = torch.zeros(3, 3)
        torch.save(state, path)
    elif tamper == "pickled object":
        state["extra"] = _NotATensor()  # weights_only refuses to build it
        torch.save(state, path)
    else:
        path.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError):
        AisfxSmallTrunk(path)


def test_saved_weights_load_back_with_the_same_fingerprint(tmp_path):
    net = AisfxSmall()
    fp = save_student(net, tmp_path / "w.pt")
    trunk = AisfxSmallTrunk(tmp_path / "w.pt")
    assert trunk.fingerprint == fp == weights_fingerprint(net.state_dict())


def test_mixing_windows_adds_power_and_is_the_identity_alone():
    mels = log_mel_batch(generated_clips()[:2], aisfx_features())
    np.testing.assert_allclose(mix_windows(mels[0], mels[1], 0.0, 1.0), mels[0], atol=1e-4)
    mixed = mix_windows(mels[0], mels[1], 1.0, 1.0)
    assert (mixed >= np.maximum(mels[0], mels[1]) - 1e-4).all()
    assert mix_windows(mels[0], mels[1], 0.0, 0.25).mean() < mels[0].mean()


def test_distillation_lowers_the_loss_and_raises_the_fidelity_on_a_tiny_set():
    """A randomly initialised network of the same shape as the teacher: the student must learn its function."""
    torch.manual_seed(1)
    teacher = AisfxSmall().eval()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mels = (rng.random((48, 96, 43)) * rng.uniform(0.5, 8, (48, 1, 1))).astype(np.float32)
    targets = teacher_embed(mels, teacher)
    train, val = DistillData(mels[:40], targets[:40]), DistillData(mels[40:], targets[40:])
    student = AisfxSmall()
    scale = float(np.sqrt(np.mean(np.square(train.targets))))

    def train_loss(model) -> float:
        with torch.no_grad():
            return float(distill_loss(model.eval()(torch.from_numpy(train.mels).unsqueeze(1)), torch.from_numpy(train.targets), scale))

    before, cos_before = train_loss(student), mean_cosine(student, val)
    run = distill(train, val, DistillCfg(batch_size=8, lr=3e-3, max_epochs=12, max_seconds=600, shift_frames=0), model=student)
    assert train_loss(run.model) < 0.5 * before
    assert run.history[-1]["loss"] < 0.1 * run.history[0]["loss"]
    assert run.val_cosine > max(0.6, cos_before + 0.5)
