"""Reliability harness: seeded SIGKILL points against real CLI subprocesses, sizes from the environment.

``FOLEY_FAULT_POINTS`` kill points per command (default 2, the CI size; the full run uses 20),
``FOLEY_FUZZ_EXAMPLES`` Hypothesis examples per fuzz test (default 10), ``FOLEY_FAULT_SEED``
the seed of every random kill point (default fixed, so a failure can be replayed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

FAULT_POINTS = max(1, int(os.environ.get("FOLEY_FAULT_POINTS", "2")))
FUZZ_EXAMPLES = max(1, int(os.environ.get("FOLEY_FUZZ_EXAMPLES", "10")))
FAULT_SEED = int(os.environ.get("FOLEY_FAULT_SEED", "20261126"))
ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300.0  # one CLI run on a loaded 2-core machine, imports included

# The real CLI entry point (what the ``foley-engine`` script runs), started with this interpreter.
ENGINE = [sys.executable, "-c", "from engine.cli import main; main()"]


def child_env(**extra: str) -> dict[str, str]:
    """Environment of a child process: this checkout importable, one math thread (deterministic, polite)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``cmd`` in its own process group (so its worker processes die with it), output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env or child_env(), start_new_session=True, cwd=ROOT)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process and every process it started (a power cut, as far as the files can tell)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


ORPHAN_GRACE_S = 5.0  # every process of a killed run must be gone this long after the kill


def group_processes(pgid: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes of process group ``pgid``: ``(pid, command line)``; Linux /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
            if int(fields[2]) != pgid or fields[0] in ("Z", "X"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue  # it ended while we looked
        found.append((int(entry.name), cmdline))
    return found


def kill_parent_only(proc: subprocess.Popen) -> None:
    """SIGKILL the command's own process alone (``kill -9 PID``), as the OOM killer or a crash would."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def assert_no_survivors(pgid: int, grace: float = ORPHAN_GRACE_S) -> None:
    """Within ``grace`` s every process of the killed run's group is gone; survivors are killed, then reported."""
    if not sys.platform.startswith("linux"):
        return
    deadline = time.monotonic() + grace
    while (left := group_processes(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise AssertionError(f"{len(left)} process(es) of the killed run still alive {grace:.0f} s after the kill: {left}")


def worker_processes(pgid: int) -> list[int]:
    """The multiprocessing workers (spawn children) alive in process group ``pgid``."""
    return [pid for pid, cmd in group_processes(pgid) if "spawn_main" in cmd]


def kill_parent_with_live_workers(cmd: list[str], log: Path, ready: Callable[[], bool], workers: int = 2,
                                  timeout: float = RUN_TIMEOUT_S) -> None:
    """Start ``cmd``; once ``workers`` worker processes are alive and ``ready()`` holds (they have
    delivered work, so they are past start-up), SIGKILL the command's process alone and assert that
    nothing of the run is left :data:`ORPHAN_GRACE_S` later."""
    proc = start(cmd, log)
    deadline = time.monotonic() + timeout
    try:
        while len(worker_processes(proc.pid)) < workers or not ready():
            if proc.poll() is not None:
                raise AssertionError(f"the run ended (exit {proc.returncode}) before the kill point:\n{tail(log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {workers} busy workers after {timeout:.0f} s:\n{tail(log)}")
            time.sleep(0.01)
        assert len(worker_processes(proc.pid)) >= workers
    except BaseException:
        kill_group(proc)
        raise
    kill_parent_only(proc)
    assert_no_survivors(proc.pid)


def tail(log: Path, n: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def run_to_end(cmd: list[str], log: Path, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT_S) -> int:
    """Run ``cmd`` uninterrupted; its exit code."""
    proc = start(cmd, log, env)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise AssertionError(f"{cmd[3:]} did not finish in {timeout:.0f} s:\n{tail(log)}") from None


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], delay: float, timeout: float = RUN_TIMEOUT_S,
              parent_only: bool = False) -> bool:
    """Wait until ``ready()`` (polled), then ``delay`` seconds more, then SIGKILL; False if it exited first.

    ``parent_only``: kill the command's process alone and assert that its worker processes end by
    themselves within :data:`ORPHAN_GRACE_S`; otherwise the whole process group is killed."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready():
        if time.monotonic() > deadline:
            kill_group(proc)
            raise AssertionError("the process made no progress before the deadline")
        time.sleep(0.02)
    end = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < end:
        time.sleep(0.005)
    if proc.poll() is not None:
        return False
    if parent_only:
        kill_parent_only(proc)
        assert_no_survivors(proc.pid)  # start_new_session: the group id is the command's pid
    else:
        kill_group(proc)
    return True


@dataclass
class FaultLog:
    """What a kill/restart campaign did (for the assertion messages and docs/reliability.md)."""

    kills: int = 0
    runs: int = 0
    episodes: int = 0  # outputs brought to completion (and checked) from scratch
    points: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.kills} kills in {self.runs} runs over {self.episodes} episodes: " + "; ".join(self.points)


def kill_restart_campaign(
    points: int,
    rng: np.random.Generator,
    new_output: Callable[[int], Path],
    command: Callable[[Path], list[str]],
    trigger: Callable[[Path, np.random.Generator], tuple[Callable[[], bool], float, str] | None],
    verify: Callable[[Path], None],
    logs: Path,
    env: dict[str, str] | None = None,
    parent_only: bool = False,
) -> FaultLog:
    """Kill ``command(out)`` at ``points`` seeded random points, restarting it on the same output each time.

    ``trigger(out, rng)`` gives ``(ready, delay, label)``: the kill lands ``delay`` s after ``ready()``
    first holds; or ``None``: this run goes to the end (its episode is complete). A run that finishes before its kill point completes an episode: ``verify(out)`` checks
    it against the uninterrupted result and the next kills start on a fresh output. After the last kill
    the run is restarted once more, to completion, and verified. ``parent_only``: see :func:`kill_when`.
    """
    stats = FaultLog()
    episode = 0
    out = new_output(episode)
    max_runs = 3 * points + 5
    while stats.kills < points:
        assert stats.runs < max_runs, f"kill points keep missing the runs: {stats}"
        spec = trigger(out, rng)
        log = logs / f"run{stats.runs:03d}.log"
        if spec is None:  # this output has had its kills: run it to the end
            rc = run_to_end(command(out), log, env)
            stats.runs += 1
            assert rc == 0, f"run {stats.runs} failed (exit {rc}) after {stats}:\n{tail(log)}"
            verify(out)
            stats.episodes += 1
            episode += 1
            out = new_output(episode)
            continue
        ready, delay, label = spec
        proc = start(command(out), log, env)
        stats.runs += 1
        if kill_when(proc, ready, delay, parent_only=parent_only):
            stats.kills += 1
            stats.points.append(label)
            continue
        assert proc.returncode == 0, f"run {stats.runs} failed (exit {proc.returncode}) after {stats}:\n{tail(log)}"
        verify(out)
        stats.episodes += 1
        episode += 1
        out = new_output(episode)
    log = logs / f"run{stats.runs:03d}-final.log"
    rc = run_to_end(command(out), log, env)
    stats.runs += 1
    assert rc == 0, f"the restart after {stats} failed (exit {rc}):\n{tail(log)}"
    verify(out)
    stats.episodes += 1
    return stats


def progress_trigger(progress: Callable[[Path], int], total: int, short: float, long: float):
    """Kill points drawn over the work still to do on an output.

    ``progress(out)`` counts the durable units on disk (commits, shards, checkpoints) out of ``total``.
    The kill lands after 0..all remaining units more, plus 0..``short`` s (0..``long`` s when 0 more:
    start-up and recovery). Once everything is on disk, one kill goes into the finishing phase
    (final graph/manifest/state write); after that the output runs to the end and is verified.
    """
    finishing: set[Path] = set()

    def trigger(out: Path, rng: np.random.Generator):
        now = progress(out)
        if now >= total:
            if out in finishing:
                return None
            finishing.add(out)
        more = int(rng.integers(0, total - now + 1))
        delay = float(rng.uniform(0.0, short if more else long))
        target = now + more
        return (lambda: progress(out) >= target), delay, f"{now}+{more}+{delay:.2f}s"

    return trigger


def record(name: str, stats: FaultLog) -> None:
    """Append a campaign's outcome to ``$FOLEY_FAULT_REPORT`` (a JSON-lines file) when it is set."""
    target = os.environ.get("FOLEY_FAULT_REPORT")
    if target:
        import json

        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps({"campaign": name, "kills": stats.kills, "runs": stats.runs, "episodes": stats.episodes,
                                "points": stats.points}) + "\n")


@pytest.fixture
def fault_rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded by FOLEY_FAULT_SEED and the test's name: kill points replay exactly."""
    import zlib

    return np.random.default_rng([FAULT_SEED, zlib.crc32(request.node.name.encode())])


def tiny_model(seed: int = 0):
    """The library tests' tiny real AVModel (reused, not copied)."""
    from tests.engine.library.conftest import tiny_model as make

    return make(seed)


@pytest.fixture(scope="session")
def rel_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model saved as a real model file (what ``--model`` takes)."""
    path = tmp_path_factory.mktemp("rel-model") / "tiny.pt"
    tiny_model(0).save(path)
    return path
