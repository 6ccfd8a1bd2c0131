"""The window stays responsive during heavy background work, and bad media gives a message, not a crash."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer

from engine.api import Candidate

TICK_MS = 5
GAP_BOUND_MS = 150  # generous for a loaded 2-core CI box; docs/app.md reports the measured figure


def max_event_loop_gap(qtbot, seconds: float, during) -> float:
    """Run ``during(elapsed_s)`` on every tick of a 5-ms timer for ``seconds``; return the largest gap (ms)."""
    clock = QElapsedTimer()
    gaps: list[float] = []
    last = [0.0]
    timer = QTimer()
    timer.setInterval(TICK_MS)

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        gaps.append(now - last[0])
        last[0] = now
        during(now / 1000)

    timer.timeout.connect(tick)
    clock.start()
    timer.start()
    qtbot.wait(int(seconds * 1000))
    timer.stop()
    return max(gaps[1:]) if len(gaps) > 1 else float("inf")


def test_event_loop_responsive_during_slow_embedding(qtbot, make_window, demo_plan) -> None:
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    engine = w.engine.engine
    frames = np.random.default_rng(0).integers(0, 255, (48, 360, 640, 3), dtype=np.uint8)
    busy = {"runs": 0}

    def slow_embedding() -> int:
        """Real model work on the engine thread, plus decode-sized sleeps, for ~2 s."""
        t_end = time.perf_counter() + 3.5
        while time.perf_counter() < t_end:
            engine.model.embed_frames(frames)
            time.sleep(0.01)
            busy["runs"] += 1
        return busy["runs"]

    from foley_app.workers import run_in_pool

    run_in_pool(slow_embedding, None, None, pool=w.engine.pool)
    run_in_pool(slow_embedding, None, None)  # and one on the global pool, competing for the cores
    lists = []
    w.engine.recommendations_ready.connect(lambda r: lists.append(r.second))
    # three 1-s windows, scrubbing all along; the median window's worst gap must stay under the bound
    # (one window may catch the OS scheduler parking the process on a shared, overloaded box)
    gaps = sorted(max_event_loop_gap(qtbot, 1.0, lambda s: w.playback.seek((s * 4.0) % 9.5)) for _ in range(3))
    print(f"max event-loop gap per 1-s window while embedding: {', '.join(f'{g:.1f}' for g in gaps)} ms")
    assert busy["runs"] > 0
    assert gaps[1] < GAP_BOUND_MS
    qtbot.waitUntil(lambda: bool(lists) and lists[-1] == int(w.playback.position), timeout=20_000)


def test_corrupt_video_gives_message(qtbot, make_window, demo_plan, tmp_path: Path, boxes) -> None:
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with qtbot.waitSignal(w.video.open_failed, timeout=10_000):
        w.open_video(bad)
    assert any(title == "Cannot open video" and "broken.mp4" in text for _, title, text in boxes.shown)
    assert w.video.info is not None and w.video.info.path == demo_plan.video  # the good video stays open
    w.playback.seek(3.2)
    qtbot.waitUntil(lambda: w.engine.last is not None and w.engine.last.second == 3, timeout=20_000)


def test_corrupt_sound_gives_message(qtbot, make_window, demo_plan, tmp_path: Path) -> None:
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(300))
    c = Candidate(sound_id=1, path=bad, name="broken", category="x", start_s=0.0, distance=0.5, score=0.75, duration_s=1.0)
    with qtbot.waitSignal(w.audition.failed, timeout=10_000) as blocker:
        w.audition.audition(c)
    assert "broken" in blocker.args[0]
    with qtbot.waitSignal(w.timeline.error, timeout=10_000) as blocker:
        w.timeline.drop_candidate(0, 1.0, {"path": str(bad), "name": "broken", "start_s": 0.0})
    assert "broken" in blocker.args[0]
    assert w.timeline.doc.clip_count() == 0
    assert "broken" in w.statusBar().currentMessage()


def test_missing_model_is_a_message_not_a_crash(qtbot, make_window, demo_plan, tmp_path: Path, boxes) -> None:
    from foley_app.startup import plan_launch

    plan = plan_launch(video=demo_plan.video, library=None, model=tmp_path / "nope.pt", project=None,
                       saved_model=None, saved_db=None, saved_roots=[], default_model=None, demo_video=None,
                       demo_library=None, user_db=tmp_path / "db", demo_db=tmp_path / "demo-db")
    w = make_window(plan)
    qtbot.waitUntil(lambda: any("model file not found" in t for _, _, t in boxes.shown), timeout=5_000)
    assert w.sounds.banner.text() == "No recommendations: choose a model (Library \u25b8 Choose Model)"
    qtbot.waitUntil(lambda: w.video.info is not None, timeout=10_000)  # the video still opens
