"""Packaging: bundled resources are found in a checkout, a PyInstaller bundle and an installed wheel."""

from __future__ import annotations

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
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=cwd, capture_output=True, text=True, timeout=240)
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


def test_installed_wheel_finds_its_resources(dists: tuple[Path, Path], tmp_path: Path) -> None:
    _, wheel = dists
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = (
        "import json, engine, engine.resources as r; "
        "print(json.dumps([engine.__file__, str(r.resources_root()), str(r.resource_path('models', 'default.pt'))]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    engine_file, root, model = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(engine_file).is_relative_to(site)
    assert Path(root) == site / "foley_resources"
    assert Path(model) == site / "foley_resources" / "models" / "default.pt"
    for rel in _bundled_files(ROOT / "resources") + [PROBE]:
        assert (site / "foley_resources" / rel).is_file(), rel
