"""Launch on a demo-like setup: recommendations appear, and follow the playhead."""

from __future__ import annotations

import time

from foley_app.controllers.engine import Recommendation


def wait_for_list(qtbot, window, timeout: int = 30_000) -> Recommendation:
    with qtbot.waitSignal(window.engine.recommendations_ready, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def test_launch_shows_recommendations(qtbot, make_window, demo_plan, boxes) -> None:
    t0 = time.perf_counter()
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    elapsed = time.perf_counter() - t0
    model = w.sounds.model
    assert model.rowCount() == min(w.engine.k, w.engine.engine.info.n_files)
    ranks = [model.candidate(i).rank for i in range(model.rowCount())]
    assert ranks == sorted(ranks)
    scores = [model.candidate(i).score for i in range(model.rowCount())]
    assert scores == sorted(scores, reverse=True)
    assert w.video.info is not None and w.video.info.duration > 9
    assert "Sounds for 00:00:00:00" in w.sounds.banner.text()
    assert "library:" in w.status_library.text() and "files" in w.status_library.text()
    assert w.status_model.text().startswith("model: tiny.pt")
    assert boxes.shown == []
    print(f"launch -> first recommendations: {elapsed:.2f} s")


def test_scrubbing_changes_the_list(qtbot, make_window, demo_plan) -> None:
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    first = [c.path for c in w.sounds.model.candidates()]
    seen = {tuple(first)}
    for t in (1.2, 3.5, 4.5):
        with qtbot.waitSignal(w.engine.recommendations_ready, timeout=20_000) as blocker:
            w.playback.seek(t)
        r = blocker.args[0]
        assert r.second == int(t)
        seen.add(tuple(c.path for c in r.candidates))
        assert w.filmstrip._marker == int(t)
    assert len(seen) > 1, "the list never changed while scrubbing across different events"
