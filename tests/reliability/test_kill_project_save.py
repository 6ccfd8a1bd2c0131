"""SIGKILL a process that saves (and autosaves) a project over and over: the file on disk is always
the previous version or the new one, complete, never a mix and never missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from foley_app.core.project_io import load_project, save_project, sidecar_path

from .conftest import FAULT_POINTS, child_env, kill_group

# Version i of the project has clips c1..ci (clip k at position k, gain -k/10 dB) on one track; the
# saver prints "saved i" only after save_project(i) returned and "auto i" after write_autosave(i).
SAVER = r"""
import sys
from pathlib import Path
from foley_app.core.commands import AddClip, AddTrack
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import save_project, write_autosave
path = Path(sys.argv[1])
doc = Document()
AddTrack("T").do(doc)
print("ready", flush=True)
i = 0
while True:
    i += 1
    AddClip(doc.tracks[0].id, Clip(f"c{i}", Path(f"/sfx/{i:05d}.wav"), 0.0, 1.0, float(i), -i / 10, "x" * (i % 300))).do(doc)
    save_project(doc, path)
    print("saved", i, flush=True)
    if i % 3 == 0:
        write_autosave(doc)
        print("auto", i, flush=True)
"""


def version_of(path: Path) -> int:
    """The version number a project file holds; fails unless it is exactly one complete version."""
    doc = load_project(path)  # ProjectError on a half-written or mixed file
    clips = doc.tracks[0].clips
    n = len(clips)
    assert [c.id for c in clips] == [f"c{k}" for k in range(1, n + 1)]
    assert [c.position for c in clips] == [float(k) for k in range(1, n + 1)]
    assert [c.gain_db for c in clips] == [-k / 10 for k in range(1, n + 1)]
    assert [c.name for c in clips] == ["x" * (k % 300) for k in range(1, n + 1)]
    return n


def test_sigkill_while_saving_leaves_the_previous_or_the_new_version(fault_rng: np.random.Generator, tmp_path: Path) -> None:
    path = tmp_path / "scene.foley.json"
    auto = sidecar_path(path)
    seen: list[tuple[int, int]] = []
    previous = 0  # the version the last saver left in the file
    for point in range(3 * FAULT_POINTS):  # cheap: no torch in the saver
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, env=child_env(),
                                start_new_session=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(float(fault_rng.uniform(0.02, 0.8)))
        kill_group(proc)
        lines = proc.stdout.read().decode().split()
        saved = [int(v) for k, v in zip(lines[::2], lines[1::2]) if k == "saved"]
        autos = [int(v) for k, v in zip(lines[::2], lines[1::2]) if k == "auto"]
        last = saved[-1] if saved else 0
        if last == 0 and not path.exists():
            continue  # killed before the first save finished: nothing to lose yet
        n = version_of(path)
        if last == 0:  # killed before this saver's first save finished: the previous saver's file, or its first save
            assert n in (previous, 1), f"point {point}: file holds version {n}, the previous saver left {previous}"
        else:
            assert n in (last, last + 1), f"point {point}: file holds version {n}, last completed save {last}"
        previous = n
        if auto.exists():  # the autosave of this or an earlier saver, complete
            assert version_of(auto) % 3 == 0
            if autos:
                assert version_of(auto) in (autos[-1], autos[-1] + 3)
        others = [p for p in tmp_path.iterdir() if p.name not in (path.name, auto.name)]
        assert all(p.name.startswith(".") and ".tmp" in p.name for p in others), others  # only hidden temp files
        seen.append((last, n))
    assert seen and max(n for _, n in seen) > 1, "the saver never got to overwrite its file"
    # a killed save's hidden temp file is removed by the next save once it is an hour old
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    for p in leftovers:
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    save_project(load_project(path), path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name.startswith(f".{path.name}.")]
