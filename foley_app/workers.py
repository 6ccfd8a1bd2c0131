"""Background work: one helper, ``run_in_pool``, for everything that must not run on the UI thread.

Results, errors and progress come back as queued signals, so callbacks run on the GUI thread
(Picard's ``run_task`` pattern). A worker can be cancelled; long functions that accept ``cancel``
and ``progress`` keyword arguments receive a ``threading.Event`` and a ``(done, total)`` callback.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

_live: set[Worker] = set()  # keeps workers (and their signal objects) alive until they report


class WorkerSignals(QObject):
    """Signals of one worker; created on the GUI thread so that connections are queued to it."""

    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception it raised (with ``__traceback_text__``)
    progress = Signal(int, int)  # done, total
    done = Signal()  # after finished or failed, always


class Worker(QRunnable):
    """Runs ``fn(*args, **kwargs)`` on a pool thread and reports through ``signals``."""

    def __init__(self, fn: Callable[..., Any], *args: Any, with_progress: bool = False, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.cancel_event = threading.Event()
        self.signals = WorkerSignals()
        if with_progress:
            self.kwargs["cancel"] = self.cancel_event
            self.kwargs["progress"] = self._report

    def _report(self, done: int, total: int) -> None:
        if not self.cancel_event.is_set():
            self.signals.progress.emit(int(done), int(total))

    def cancel(self) -> None:
        """Ask the function to stop (it must check the event) and drop its result."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the GUI
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            if not self.cancelled:
                log.debug("worker %s failed: %s", getattr(self.fn, "__name__", self.fn), exc)
                self.signals.failed.emit(exc)
        else:
            if not self.cancelled:
                self.signals.finished.emit(result)
        finally:
            self.signals.done.emit()


class _Relay(QObject):
    """Receives a worker's queued reports on the GUI thread. Parented to the object the callbacks
    belong to, so when that object is deleted the relay goes too and late reports are dropped."""

    def __init__(self, worker: Worker, on_done, on_error, on_progress, parent: QObject | None) -> None:
        super().__init__(parent)
        self.worker, self.on_done, self.on_error, self.on_progress = worker, on_done, on_error, on_progress

    @Slot(object)
    def finished(self, result: Any) -> None:
        if not self.worker.cancelled and self.on_done is not None:
            self.on_done(result)

    @Slot(object)
    def failed(self, exc: BaseException) -> None:
        if not self.worker.cancelled:
            (self.on_error or _log_failure)(exc)

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        if not self.worker.cancelled and self.on_progress is not None:
            self.on_progress(done, total)

    @Slot()
    def release(self) -> None:
        self.deleteLater()


def _owner_of(*callbacks: Callable[..., Any] | None) -> QObject | None:
    for cb in callbacks:
        obj = getattr(cb, "__self__", None)
        if isinstance(obj, QObject):
            return obj
    return None


def run_in_pool(
    fn: Callable[..., Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    *args: Any,
    on_progress: Callable[[int, int], None] | None = None,
    pool: QThreadPool | None = None,
    with_progress: bool = False,
    owner: QObject | None = None,
    **kwargs: Any,
) -> Worker:
    """Run ``fn`` on ``pool`` (default: the global pool); callbacks are delivered on the GUI thread.

    Reports are dropped once the worker is cancelled, or once ``owner`` (default: the QObject the
    first bound-method callback belongs to) has been deleted.
    """
    worker = Worker(fn, *args, with_progress=with_progress or on_progress is not None, **kwargs)
    sig = worker.signals
    relay = _Relay(worker, on_done, on_error, on_progress, owner or _owner_of(on_done, on_error, on_progress))
    worker.relay = relay  # type: ignore[attr-defined] - keeps an unparented relay alive while the job runs
    sig.finished.connect(relay.finished, Qt.QueuedConnection)
    sig.failed.connect(relay.failed, Qt.QueuedConnection)
    sig.progress.connect(relay.progress, Qt.QueuedConnection)
    sig.done.connect(relay.release, Qt.QueuedConnection)
    sig.done.connect(lambda w=worker: _live.discard(w), Qt.QueuedConnection)
    _live.add(worker)
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker


def _log_failure(exc: BaseException) -> None:
    log.error("background task failed: %s\n%s", exc, getattr(exc, "__traceback_text__", ""))


def serial_pool(name: str) -> QThreadPool:
    """A one-thread pool whose thread never expires: for objects bound to one thread (SQLite, models)."""
    pool = QThreadPool()
    pool.setObjectName(name)
    pool.setMaxThreadCount(1)
    pool.setExpiryTimeout(-1)
    return pool
