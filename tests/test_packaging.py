"""Packaging: bundled resources are found in a checkout, a PyInstaller bundle and an installed wheel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine import resources

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
