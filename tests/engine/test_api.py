"""``engine.api``, the door: every name resolves, importing it stays cheap, and nothing imports it in a cycle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet); its stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT).stdout


def test_every_exported_name_resolves() -> None:
    import engine.api as api

    assert api.__all__ == sorted(set(api.__all__))
    assert [n for n in api.__all__ if getattr(api, n, None) is None] == []
    assert set(api.__all__) <= set(dir(api))
    with pytest.raises(AttributeError, match="no attribute 'load_recommender'"):
        api.load_recommender  # noqa: B018


def test_names_come_from_their_homes() -> None:
    import engine.api as api
    from engine.data.media import read_frame
    from engine.errors import EngineError
    from engine.library.candidate import Candidate
    from engine.library.loading import load_engine
    from engine.version import __version__

    assert (api.Candidate, api.EngineError, api.read_frame, api.load_engine, api.__version__) == (
        Candidate, EngineError, read_frame, load_engine, __version__)


def test_import_is_cheap() -> None:
    heavy = ("torch", "numpy", "av", "cv2", "engine.library.recommender", "engine.data.media")
    out = fresh(f"import sys, engine.api; print([m for m in {heavy!r} if m in sys.modules])")
    assert out.strip() == "[]"


def test_recommender_imports_without_the_api() -> None:
    """No hidden cycle: the recommender's module loads first in a fresh interpreter, without engine.api."""
    out = fresh("import sys, engine.library.recommender as r; print(r.Candidate.__module__, 'engine.api' in sys.modules)")
    assert out.split() == ["engine.library.candidate", "False"]
