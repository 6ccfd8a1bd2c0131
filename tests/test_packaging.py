"""Packaging: bundled resources are found in a checkout, a PyInstaller bundle and an installed wheel."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from engine import resources
from engine.version import __version__

ROOT = Path(__file__).resolve().parents[1]


def _fake_resources(root: Path) -> Path:
    """A resources/ tree like the shipped one: model, demo video + library, icon."""
    res = root / "resources"
    (res / "models").mkdir(parents=True)
    (res / "models" / "default.pt").write_bytes(b"weights")
    (res / "demo" / "library" / "steps").mkdir(parents=True)
    (res / "demo" / "demo.mp4").write_bytes(b"video")
    (res / "demo" / "library" / "steps" / "step.wav").write_bytes(b"wav")
    (res / "icons").mkdir()
    (res / "icons" / "foley-assistant.svg").write_text("<svg/>")
    return res


def test_checkout_resolves_repo_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert resources.resources_root() == ROOT / "resources"
    assert resources.resource_path("models", "default.pt") == ROOT / "resources" / "models" / "default.pt"
    model = resources.default_model_path()
    assert model is None or model == ROOT / "resources" / "models" / "default.pt"


def test_pyinstaller_bundle_wins_over_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _fake_resources(tmp_path)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_root() == res
    assert resources.default_model_path() == res / "models" / "default.pt"
    assert resources.demo_video_path() == res / "demo" / "demo.mp4"
    assert resources.demo_library_path() == res / "demo" / "library"
    assert resources.app_icon_path() == res / "icons" / "foley-assistant.svg"


def test_bundle_without_resources_falls_back_to_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_root() == ROOT / "resources"


def test_demo_fallbacks_pick_any_video_and_sound_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = tmp_path / "resources" / "demo"
    (demo / "empty").mkdir(parents=True)
    (demo / "sfx" / "doors").mkdir(parents=True)
    (demo / "sfx" / "doors" / "slam.flac").write_bytes(b"flac")
    (demo / "notes.txt").write_text("not a video")
    (demo / "b_clip.mov").write_bytes(b"video")
    (demo / "a_clip.MP4").write_bytes(b"video")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.demo_video_path() == demo / "a_clip.MP4"
    assert resources.demo_library_path() == demo / "sfx"


def test_missing_resources_give_none_not_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "resources").mkdir()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.default_model_path() is None
    assert resources.demo_video_path() is None
    assert resources.demo_library_path() is None
    assert resources.app_icon_path() is None


def test_no_resources_anywhere_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    for finder in ("_bundle_root", "_checkout_root", "_package_root"):
        monkeypatch.setattr(resources, finder, lambda: None)
    assert resources.resources_root() is None
    assert resources.default_model_path() is None
    assert resources.demo_video_path() is None
    assert resources.demo_library_path() is None
    assert resources.app_icon_path() is None
    assert resources.resource_path("models", "default.pt").parts[-3:] == ("resources", "models", "default.pt")


@pytest.mark.parametrize("part", ["../pyproject.toml", "/etc/passwd", "models/../../x"])
def test_resource_path_rejects_escapes(part: str) -> None:
    with pytest.raises(ValueError, match="relative names"):
        resources.resource_path(part)


# --- wheel and sdist ---------------------------------------------------------------------------

BUILD_INPUTS = ("engine", "foley_app", "resources", "pyproject.toml", "setup.py", "README.md", "LICENSE")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
PROBE = "demo/library/packaging_probe/probe.wav"


def _bundled_files(root: Path) -> list[str]:
    """Every resource file the wheel must carry, relative to resources/ (hidden files skipped)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not any(s.startswith(".") for s in p.relative_to(root).parts)
    )


def _backend(call: str, cwd: Path, out: Path) -> Path:
    """Run one PEP 517 hook of setuptools (what ``python -m build`` does) and return the artefact."""
    code = f"import sys; from setuptools import build_meta as b; print(b.{call}(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=cwd, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """sdist from a copy of the checkout, then the wheel built from the unpacked sdist."""
    tmp = tmp_path_factory.mktemp("dist")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=JUNK)
        elif path.is_file():
            shutil.copy2(path, src / name)
    if not (src / "README.md").exists():  # the lead writes it; metadata needs one
        (src / "README.md").write_text("Foley Assistant\n")
    probe = src / "resources" / PROBE  # a nested data file, so the checks bite even before resources land
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_bytes(b"RIFF")
    out = tmp / "out"
    out.mkdir()
    sdist = _backend("build_sdist", src, out)
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    wheel = _backend("build_wheel", tmp / "unpacked" / sdist.name.removesuffix(".tar.gz"), out)
    return sdist, wheel


def test_dist_names_carry_the_version(dists: tuple[Path, Path]) -> None:
    sdist, wheel = dists
    assert sdist.name == f"foley_assistant-{__version__}.tar.gz"
    assert wheel.name == f"foley_assistant-{__version__}-py3-none-any.whl"


def test_sdist_and_wheel_ship_every_resource(dists: tuple[Path, Path]) -> None:
    sdist, wheel = dists
    expected = _bundled_files(ROOT / "resources") + [PROBE]
    with tarfile.open(sdist) as tar:
        prefix = f"foley_assistant-{__version__}/resources/"
        in_sdist = {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)}
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    in_wheel = {n.removeprefix("foley_resources/") for n in names if n.startswith("foley_resources/")}
    assert set(expected) <= in_sdist
    assert set(expected) <= in_wheel
    assert {"engine/resources.py", "engine/version.py", "foley_app/__init__.py"} <= names


def test_wheel_declares_both_commands(dists: tuple[Path, Path]) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read(f"foley_assistant-{__version__}.dist-info/entry_points.txt").decode()
    assert "foley-engine = engine.cli:main" in entry_points
    assert "foley-app = foley_app.main:main" in entry_points
    assert "[foley_engine.commands]\nexport = foley_app.core.export_cli:register" in entry_points  # `foley-engine export`


def test_installed_wheel_finds_its_resources(dists: tuple[Path, Path], tmp_path: Path) -> None:
    _, wheel = dists
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = (
        "import json, engine, engine.resources as r; "
        "print(json.dumps([engine.__file__, str(r.resources_root()), str(r.resource_path('models', 'default.pt'))]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    engine_file, root, model = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(engine_file).is_relative_to(site)
    assert Path(root) == site / "foley_resources"
    assert Path(model) == site / "foley_resources" / "models" / "default.pt"
    for rel in _bundled_files(ROOT / "resources") + [PROBE]:
        assert (site / "foley_resources" / rel).is_file(), rel


# --- what the PyInstaller bundle leaves out ------------------------------------------------------

BLOCKED_RUN = r"""
import importlib, importlib.abc, pkgutil, sys, tempfile
from pathlib import Path
sys.path.insert(0, {packaging!r})
from bundle_excludes import EXCLUDED_MODULES

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in EXCLUDED_MODULES):
            raise ModuleNotFoundError(f"No module named {{name!r}} (left out of the bundle)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
import numpy as np
import engine, foley_app
failed = []
for pkg in (engine, foley_app):
    for info in list(pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")):
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            failed.append(f"{{info.name}}: {{exc}}")
assert not failed, failed

from engine.data.features import log_mel_batch
from engine.models import AVModel
from engine.presets import get_preset
from foley_app.core.onset import first_transient

rng = np.random.default_rng(0)
wave = (0.001 * rng.standard_normal(48000)).astype(np.float32)
wave[24000:24480] += 0.9
assert log_mel_batch(wave[None]).shape == (1, 64, 100)  # mel filters from librosa
assert abs(first_transient(wave, 48000) - 0.5) < 0.01
model = AVModel(get_preset("m1", "compact")).eval()
path = Path(tempfile.mkdtemp()) / "m.pt"
model.save(path)
loaded = AVModel.load(path)
ev = loaded.embed_frames(np.zeros((2, 120, 160, 3), np.uint8))
ea = loaded.embed_waveforms(np.stack([wave, wave]))
assert ev.shape == ea.shape == (2, 128)
print("OK")
"""


def test_app_runs_without_the_modules_the_bundle_leaves_out(tmp_path: Path) -> None:
    code = BLOCKED_RUN.format(packaging=str(ROOT / "packaging"))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stderr[-4000:]


def test_bundle_filter_drops_headers_tests_and_cuda_only_on_cpu_builds() -> None:
    spec = importlib.util.spec_from_file_location("bundle_excludes", ROOT / "packaging" / "bundle_excludes.py")
    excludes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(excludes)
    assert not excludes.keep("torch/include/ATen/ATen.h", cuda_build=False)
    assert not excludes.keep("torch/lib/libtorchbind_test.so", cuda_build=False)
    assert not excludes.keep("torch/test/Dict_test", cuda_build=False)
    assert not excludes.keep("torch/bin/test_api", cuda_build=False)
    assert excludes.keep("torch/bin/torch_shm_manager", cuda_build=False)  # import torch needs it
    assert not excludes.keep("scipy/io/tests/data/x.mat", cuda_build=False)
    assert not excludes.keep("nvidia/cublas/lib/libcublas.so.12", cuda_build=False)
    assert excludes.keep("nvidia/cublas/lib/libcublas.so.12", cuda_build=True)
    assert excludes.keep("torch/lib/libtorch_cpu.so", cuda_build=False)
    assert excludes.keep("resources/models/default.pt", cuda_build=False)
    assert excludes.keep("PySide6/Qt/plugins/platforms/libqoffscreen.so", cuda_build=False)


# --- foley-app --smoke-test / --version (what packaging/smoke_test.py runs on the built app) ------


def _app(args: list[str], home: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``foley-app`` (from this checkout) offscreen with a clean HOME, as the smoke test does."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT)}
    code = "import sys; from foley_app.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=home, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.models import AVModel
    from engine.presets import get_preset

    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    AVModel(get_preset("m1", "compact")).save(path)
    return path


def test_app_version_matches_engine(tmp_path: Path) -> None:
    proc = _app(["--version"], tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"foley-app {__version__}"


def test_smoke_flag_exits_0_once_recommendations_are_listed(tmp_path: Path, event_video, sound_library, tiny_model) -> None:
    library = sound_library[0].parents[1]  # <root>/<category>/<file>.wav
    proc = _app([str(event_video.path), "--library", str(library), "--model", str(tiny_model), "--smoke-test", "200"], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("smoke test: ok: ") and "sounds listed for second 0" in line


def test_smoke_flag_exits_1_on_an_unreadable_model(tmp_path: Path, event_video, sound_library) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    library = sound_library[0].parents[1]  # <root>/<category>/<file>.wav
    proc = _app([str(event_video.path), "--library", str(library), "--model", str(bad), "--smoke-test", "120"], tmp_path)
    assert proc.returncode == 1
    assert "smoke test: FAILED: " in proc.stdout and "bad.pt" in proc.stdout
