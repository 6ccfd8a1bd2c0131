"""``foley-app --smoke-test``: start normally, exit 0 once the first recommendations are listed.

Used by ``packaging/smoke_test.py`` on the built app (offscreen, clean environment, bundled demo):
the exit code says whether the whole chain works there (model, index build, video decoding,
ranking, the list view). Any failure the window reports, or the timeout, exits 1.
"""

from __future__ import annotations

import logging
import sys
import time

from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

log = logging.getLogger(__name__)


def arm(app: QApplication, window, timeout_s: float) -> None:  # (window: MainWindow)
    """Watch ``window`` and end the app's event loop with 0 (list filled) or 1 (error, timeout)."""
    started = time.monotonic()
    done = [False]

    def finish(code: int, message: str) -> None:
        if done[0]:
            return
        done[0] = True
        line = f"smoke test: {'ok' if code == 0 else 'FAILED'}: {message} ({time.monotonic() - started:.1f} s)"
        (log.info if code == 0 else log.error)(line)
        sys.stdout.write(line + "\n")  # the one line the smoke-test script reads
        sys.stdout.flush()
        window.shutdown()
        QThreadPool.globalInstance().waitForDone(10_000)  # let cancelled workers end before teardown
        app.exit(code)

    def check(result) -> None:  # (result: Recommendation)
        model = window.sounds.model
        rows = model.rowCount()
        if rows == 0 or result.source == "similar":
            return
        names = ", ".join(c.name for c in result.candidates[:3])
        finish(0, f"{rows} sounds listed for second {result.second} ({result.source}): {names}")

    def failed(what: str):  # -> slot
        return lambda *args: finish(1, f"{what}: {args[-1] if args else ''}")

    # queued after the window's own slot has filled the list model
    window.engine.recommendations_ready.connect(lambda r: QTimer.singleShot(0, lambda: check(r)))
    window.engine.load_failed.connect(failed("model or library failed to load"))
    window.engine.recommendation_failed.connect(failed("ranking failed"))
    window.library.failed.connect(failed("indexing failed"))
    window.video.open_failed.connect(failed("video failed to open"))
    QTimer.singleShot(int(timeout_s * 1000), lambda: finish(1, f"no recommendations within {timeout_s:.0f} s"))

    def watch_dialogs() -> None:  # a message box means something went wrong (errors are shown that way)
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            finish(1, f"dialog {box.windowTitle()!r}: {box.text()}")

    watcher = QTimer(window)
    watcher.timeout.connect(watch_dialogs)
    watcher.start(250)
    plan = getattr(window, "plan", None)
    if plan is not None and (plan.model is None or plan.db_dir is None or plan.video is None):
        QTimer.singleShot(0, lambda: finish(1, f"nothing to recommend for: {'; '.join(plan.problems) or plan}"))
