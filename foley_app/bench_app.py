"""``python -m foley_app.bench_app``: app-side figures for ``foley-engine bench``, measured in the real window.

Starts the app as ``foley-app`` does (offscreen), and measures:
- launch -> first recommendations: from ``--t0`` (the caller's ``time.time()`` just before it
  started this process, so interpreter and imports count) to the first non-empty list;
- scrub -> updated list: ``playback.seek`` to another second, until the list shows that second
  (the window's own slot has run); single seeks and the end of a simulated drag;
- UI stalls: a 5-ms ``QTimer`` probe; the longest gap between its ticks beyond the interval,
  while the engine loads, indexes the library, embeds the video and ranks.
Writes one JSON object to ``--out``. Environment isolation (XDG folders) is the caller's job.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

PROBE_MS = 5


class StallProbe:
    """Records gaps between ticks of a fast timer: a gap far above the interval is a blocked event loop."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self.by_phase: dict[str, list[float]] = {}
        self.stalls: list[dict] = []
        self._ui_cpu, self._proc_cpu = time.thread_time(), time.process_time()
        self.worst_at = ""
        self.phase = "start"
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now, ui_cpu, proc_cpu = time.perf_counter(), time.thread_time(), time.process_time()
        gap = (now - self._last) * 1000.0 - PROBE_MS
        if not self.gaps or gap > max(self.gaps):
            self.worst_at = self.phase
        self.gaps.append(gap)
        self.by_phase.setdefault(self.phase, []).append(gap)
        if gap > 50:  # what ran meanwhile: the UI thread itself, other threads of this process, or nothing (OS/load)
            self.stalls.append({"gap_ms": round(gap, 1), "ui_thread_cpu_ms": round((ui_cpu - self._ui_cpu) * 1000, 1),
                                "process_cpu_ms": round((proc_cpu - self._proc_cpu) * 1000, 1), "phase": self.phase})
        self._last, self._ui_cpu, self._proc_cpu = now, ui_cpu, proc_cpu

    def summary(self) -> dict:
        import numpy as np

        g = np.asarray(self.gaps or [0.0])
        return {"max_ms": float(g.max()), "p99_ms": float(np.percentile(g, 99)), "ticks": int(g.size),
                "over_50ms": int((g > 50).sum()), "worst_during": self.worst_at,
                "max_ms_by_phase": {k: float(max(v)) for k, v in self.by_phase.items()},
                "over_50ms_by_phase": {k: int(sum(x > 50 for x in v)) for k, v in self.by_phase.items()},
                "worst": sorted(self.stalls, key=lambda d: -d["gap_ms"])[:8]}


def run(args: argparse.Namespace) -> dict:
    """Launch, wait for the first list, then scrub; returns the figures."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from foley_app.main import build_window
    from foley_app.settings import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = build_window(argparse.Namespace(video=args.video, library=args.library, model=args.model, project=None),
                          None, Settings(args.settings))
    window.show()
    probe = StallProbe()
    out: dict = {"import_and_window_s": time.time() - args.t0, "needs_indexing": bool(window.plan.needs_indexing)}
    state = {"first": None, "pass_done": False, "last": None}

    def on_rec(r) -> None:
        state["last"] = (r, time.perf_counter())
        if state["first"] is None and window.sounds.model.rowCount() > 0:
            state["first"] = time.time()
            out["first_source"] = r.source

    window.engine.recommendations_ready.connect(on_rec)
    window.engine.video_pass_finished.connect(lambda: state.update(pass_done=True))
    failures: list[str] = []
    window.engine.load_failed.connect(lambda m: failures.append(f"load: {m}"))
    window.engine.recommendation_failed.connect(lambda m: failures.append(f"rank: {m}"))
    window.library.failed.connect(lambda *a: failures.append(f"index: {a[-1] if a else ''}"))

    def wait_until(cond, timeout_s: float) -> bool:
        deadline = time.perf_counter() + timeout_s
        while not cond() and not failures:
            if time.perf_counter() > deadline:
                return False
            app.processEvents(QEventLoop.AllEvents, 5)
            time.sleep(0.0005)
        return not failures

    probe.phase = "launch (load, index, first ranking)"
    if not wait_until(lambda: state["first"] is not None, args.timeout):
        raise SystemExit(f"no recommendations within {args.timeout:.0f} s: {failures}")
    out["launch_to_first_s"] = state["first"] - args.t0
    out["launch_cpu_s"] = time.process_time()  # this process's CPU time until then (all threads): load-independent
    probe.phase = "video embedding pass"
    if not wait_until(lambda: state["pass_done"], args.timeout):
        raise SystemExit(f"the video pass did not finish within {args.timeout:.0f} s: {failures}")
    out["launch_to_cached_s"] = time.time() - args.t0
    probe.phase = "scrubbing"
    duration = int(window.playback.duration)
    seconds = [(7 * i + 3) % max(duration, 2) for i in range(1, args.scrubs + 1)]
    single = []
    for s in seconds:
        if window.engine.last is not None and window.engine.last.second == s:
            continue
        state["last"] = None
        t0 = time.perf_counter()
        window.playback.seek(s + 0.3)
        if not wait_until(lambda s=s: state["last"] is not None and state["last"][0].second == s, 10):
            raise SystemExit(f"no list for second {s}: {failures}")
        single.append((state["last"][1] - t0) * 1000.0)
        wait_until(lambda: False, 0.02)  # idle between scrubs, as a hand would be
    drags = []
    for start in range(0, max(duration - 12, 1), 12)[:4]:  # a drag: a seek every 16 ms across 10 seconds
        end = int(start + 39 * 0.25)
        t_enter = None  # when the playhead first reached the last second of the drag
        for j in range(40):
            t = start + j * 0.25
            if int(t) == end and t_enter is None:
                state["last"] = None
                t_enter = time.perf_counter()
            window.playback.seek(t)
            wait_until(lambda: False, 0.016)
        if not wait_until(lambda end=end: state["last"] is not None and state["last"][0].second == end, 10):
            raise SystemExit(f"no list after a drag to second {end}: {failures}")
        drags.append((state["last"][1] - t_enter) * 1000.0)
    out["scrub_single_ms"] = single
    out["scrub_after_drag_ms"] = drags
    out["stall"] = probe.summary()
    out["failures"] = failures
    probe.timer.stop()
    window.shutdown()
    QTimer.singleShot(0, app.quit)
    app.processEvents()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m foley_app.bench_app", description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--library", type=Path, required=True, help="a folder of sounds or an index folder")
    p.add_argument("--settings", type=Path, required=True, help="settings file (ini) to use")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--t0", type=float, default=None, help="time.time() when the caller started this process")
    p.add_argument("--scrubs", type=int, default=20)
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    args.t0 = args.t0 or time.time()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.basicConfig(level=logging.WARNING)
    result = run(args)
    from engine.api import atomic_write_text

    atomic_write_text(args.out, json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
