"""engine.user_dirs is the one place per-user folders come from; the engine's old names and engine.api agree."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from engine import user_dirs


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    def fake(kind: str):
        def where(appname: str, appauthor=None) -> str:
            assert appauthor is False
            return str(tmp_path / kind / appname)
        return where

    for kind in ("data", "cache", "log"):
        monkeypatch.setattr(platformdirs, f"user_{kind}_dir", fake(kind))
    return tmp_path


def test_every_folder_comes_from_platformdirs(home: Path) -> None:
    assert user_dirs.index_dir() == home / "data" / "foley-assistant" / "library"
    assert user_dirs.autosave_dir() == home / "data" / "foley-assistant" / "autosave"
    assert user_dirs.video_cache_dir() == home / "cache" / "foley-assistant" / "video"
    assert user_dirs.bench_work_dir() == home / "cache" / "foley-assistant" / "bench"
    assert user_dirs.log_dir() == home / "log" / "Foley Assistant"
    assert not (home / "data").exists()  # asking creates nothing


def test_engine_names_and_api_use_them(home: Path) -> None:
    import engine.api as api
    from engine.library import paths

    assert paths.default_db_dir() == api.default_db_dir() == user_dirs.index_dir()
    assert paths.default_cache_dir() == api.default_cache_dir() == user_dirs.video_cache_dir()
    assert api.autosave_dir() == user_dirs.autosave_dir() and api.log_dir() == user_dirs.log_dir()
    assert (api.SETTINGS_ORG, api.SETTINGS_APP) == ("FoleyAssistant", "Foley Assistant")
