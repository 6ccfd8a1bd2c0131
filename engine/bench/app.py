"""App figures: run ``python -m foley_app.bench_app`` (the real window, offscreen) in a fresh process.

The engine never imports the app: this module only starts it, with its own XDG folders so the
user's settings, index and caches are neither used nor touched (docs/architecture.md).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def run_app(model: Path, video: Path, library: Path, home: Path, scrubs: int, timeout_s: float = 600.0) -> dict:
    """One app launch; ``library`` is a folder of sounds (indexed by the app) or an index folder."""
    home.mkdir(parents=True, exist_ok=True)
    out = home / "app.json"
    out.unlink(missing_ok=True)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"), PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "foley_app.bench_app", "--model", str(model), "--video", str(video), "--library", str(library),
           "--settings", str(home / "settings.ini"), "--out", str(out), "--scrubs", str(scrubs), "--timeout", str(timeout_s)]
    t0 = time.time()
    proc = subprocess.run(cmd + ["--t0", repr(t0)], capture_output=True, text=True, env=env, timeout=timeout_s + 60)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the app benchmark failed (exit {proc.returncode}): {(proc.stdout + proc.stderr)[-3000:]}")
    return json.loads(out.read_text())


def app_figures(model: Path, video: Path, library: Path, work: Path, scrubs: int, first_run: bool) -> dict:
    """Launch -> first list, scrub -> list and UI stalls; with ``first_run`` also a launch that indexes ``library`` first."""
    home = work / "app-home"
    result: dict = {}
    if first_run:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
        result["first_launch"] = run_app(model, video, library, home, scrubs=2)
    result["launch"] = run_app(model, video, library, home, scrubs=scrubs)
    runs = [r for r in (result.get("first_launch"), result["launch"]) if r]
    scrub = np.asarray(result["launch"]["scrub_single_ms"] + result["launch"]["scrub_after_drag_ms"], np.float64)
    result["scrub_p50_ms"] = float(np.percentile(scrub, 50))
    result["scrub_p95_ms"] = float(np.percentile(scrub, 95))
    result["stall_max_ms"] = max(r["stall"]["max_ms"] for r in runs)
    return result
