"""engine.lifeline: a worker process ends by itself when its parent is killed, with or without prctl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import lifeline

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts one spawn worker calling die_with_parent (optionally with the Linux
# parent-death signal switched off, so only the sentinel/pid watchdog is left), prints the
# worker's pid once it is armed, and waits to be killed.
PARENT = r"""
import multiprocessing, sys, time

def worker(ready, use_prctl):
    from engine import lifeline
    if not use_prctl:
        lifeline.set_parent_death_signal = lambda *a: False
    lifeline.die_with_parent()
    ready.set()
    time.sleep(120)

if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=worker, args=(ready, sys.argv[1] == "prctl"))
    p.start()
    assert ready.wait(60)
    print(p.pid, flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode", ["prctl", "watchdog"])
def test_worker_exits_when_its_parent_is_sigkilled(mode: str, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    parent = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, env=env,
                              start_new_session=True, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.kill()
        parent.wait(30)
        deadline = time.monotonic() + 5.0
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), f"the worker outlived its parent by 5 s ({mode})"
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")
def test_parent_death_signal_is_armed_on_linux() -> None:
    assert lifeline.set_parent_death_signal(0)  # 0 disarms again: this test process keeps no signal
