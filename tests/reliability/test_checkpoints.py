"""Model files and training states that are not ours: random bytes, a bare state dict, another format
version, a damaged file, and pickles whose ``__reduce__`` would run code. Each is a ``CheckpointError``
with a clear message, and the code in the hostile pickles never runs (it would create a marker file)."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import CheckpointError
from engine.models import AVModel
from engine.training.train_state import load_state, save_state

from .conftest import ENGINE, child_env, tiny_model


class Evil:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class EvilSystem:
    """The classic: ``os.system`` on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _payload(model: AVModel) -> dict:
    return model.payload()


def hostile_files(folder: Path, marker: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, regex the CheckpointError message must match)."""
    model = tiny_model(0)
    files: dict[str, tuple[Path, str]] = {}

    def put(name: str, writer, pattern: str) -> None:
        path = folder / name
        writer(path)
        files[name] = (path, pattern)

    not_ours = r"not a (readable model file|Foley Assistant model file)|not a training state|unreadable training state"
    put("random.pt", lambda p: p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()), not_ours)
    put("empty.pt", lambda p: p.write_bytes(b""), not_ours)
    put("text.pt", lambda p: p.write_text("weights: yes\n"), not_ours)
    put("state_dict.pt", lambda p: torch.save(model.state_dict(), p), r"not a Foley Assistant model file|not a training state")
    put("list.pt", lambda p: torch.save([torch.zeros(3)], p), r"not a Foley Assistant model file|not a training state")
    put("version2.pt", lambda p: torch.save({**_payload(model), "version": 2}, p), r"version 2")
    put("incomplete.pt", lambda p: torch.save({k: v for k, v in _payload(model).items() if k != "state_dict"}, p), r"incomplete|not a training state")

    def edited(p: Path) -> None:
        data = _payload(model)
        first = next(k for k in data["state_dict"] if k.endswith(".weight"))
        data["state_dict"][first] = data["state_dict"][first] + 1.0
        torch.save(data, p)

    put("edited_weights.pt", edited, r"damaged|not a training state")
    put("truncated.pt", lambda p: (model.save(p), p.write_bytes(p.read_bytes()[:3000])), not_ours)
    code_ran_not = r"NOT loaded"
    put("evil_torch.pt", lambda p: torch.save({"format": "foley-assistant/avmodel", "version": 1, "x": Evil(marker)}, p), code_ran_not)
    put("evil_system.pt", lambda p: torch.save({"model": EvilSystem(marker)}, p), code_ran_not)
    put("evil_state.pt", lambda p: torch.save({"format": "foley-train-state", "version": 1, "rng": Evil(marker)}, p), code_ran_not)
    put("evil_raw_pickle.pt", lambda p: p.write_bytes(pickle.dumps(Evil(marker), protocol=2)), code_ran_not)
    put("evil_pickle_proto0.pt", lambda p: p.write_bytes(pickle.dumps(EvilSystem(marker), protocol=0)), code_ran_not)
    return files


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, tuple[Path, str]], Path]:
    folder = tmp_path_factory.mktemp("hostile-ckpt")
    marker = folder / "CODE_RAN"
    files = hostile_files(folder, marker)
    assert not marker.exists()
    # the marker mechanism works: a plain unpickle of the same bytes does run the code
    probe = folder / "probe"
    pickle.loads(pickle.dumps(Evil(probe)))
    assert probe.exists()
    probe.unlink()
    return files, marker


def test_model_loader_rejects_each_file_and_runs_no_code(hostile) -> None:
    files, marker = hostile
    for name, (path, pattern) in files.items():
        with pytest.raises(CheckpointError, match=pattern) as info:
            AVModel.load(path)
        assert str(path) in str(info.value), name
        assert "weights_only=False" not in str(info.value) and "weights_only` set to `False" not in str(info.value)
    assert not marker.exists(), "a hostile pickle ran code"


def test_training_state_loader_rejects_each_file_and_runs_no_code(hostile) -> None:
    files, marker = hostile
    for name, (path, pattern) in files.items():
        if name in ("version2.pt", "incomplete.pt", "edited_weights.pt"):  # model files, not states
            pattern = "not a training state"
        with pytest.raises(CheckpointError, match=pattern) as info:
            load_state(path)
        assert "weights_only` set to `False" not in str(info.value), name  # torch's unsafe advice is not passed on
    assert not marker.exists(), "a hostile pickle ran code"


def test_training_state_of_another_version_is_refused(tmp_path: Path) -> None:
    save_state(tmp_path / "last.pt", {"global_step": 3})
    assert load_state(tmp_path / "last.pt")["global_step"] == 3
    torch.save({"format": "foley-train-state", "version": 99, "global_step": 3}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_state(tmp_path / "future.pt")


def test_cli_refuses_hostile_models_and_states_in_one_line(hostile, tmp_path: Path) -> None:
    files, marker = hostile
    evil = files["evil_system.pt"][0]
    lib = tmp_path / "lib"
    lib.mkdir()
    r = subprocess.run([*ENGINE, "index", str(lib), "--db", str(tmp_path / "db"), "--model", str(evil), "--quiet"],
                       capture_output=True, text=True, env=child_env(), timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "NOT loaded" in r.stderr, r.stderr
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(files["evil_state.pt"][0].read_bytes())
    r = subprocess.run([*ENGINE, "train", "--data", str(tmp_path), "--out", str(run), "--resume", "--device", "cpu"],
                       capture_output=True, text=True, env=child_env(), timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "last.pt" in r.stderr, r.stderr
    assert not marker.exists(), "a hostile pickle ran code"
    assert not (tmp_path / "db").exists() or not list((tmp_path / "db").glob("hnsw-*"))


def test_weights_only_loading_keeps_the_real_model_intact(tmp_path: Path) -> None:
    model = tiny_model(3)
    model.save(tmp_path / "m.pt", extra={"note": "ok", "steps": 5})
    back = AVModel.load(tmp_path / "m.pt")
    assert back.model_id == model.model_id and back.extra == {"note": "ok", "steps": 5}
    with pytest.raises(TypeError, match="cannot be stored"):
        model.save(tmp_path / "bad.pt", extra={"obj": Evil(tmp_path / "x")})  # refuses to write what weights_only could not read
    assert not (tmp_path / "bad.pt").exists()
