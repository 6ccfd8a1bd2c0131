"""Mini waveforms of the listed candidates' matched segments: computed on a worker, cached in the model."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.api import Candidate
from foley_app.core.audio_cache import default_cache
from foley_app.widgets.candidate_model import CandidateListModel, peaks_key
from foley_app.workers import Worker, run_in_pool

log = logging.getLogger(__name__)

BINS = 48


def segment_peaks(c: Candidate, bins: int = BINS) -> np.ndarray:
    """Peaks of a candidate's matched 1-s segment relative to the whole file's peak, square-root scaled
    (between linear and dB), so a quiet tail stays visible without every row looking full (worker thread)."""
    cache = default_cache()
    mm = cache.peaks(c.path, bins, float(c.start_s), float(c.start_s) + 1.0)
    amp = np.abs(mm).max(axis=1)
    whole = cache.get(c.path)
    top = float(np.abs(whole).max()) if whole.size else 0.0
    if top <= 0:
        return np.zeros_like(amp, dtype=np.float32)
    return np.sqrt(np.clip(amp / top, 0.0, 1.0)).astype(np.float32)


class _Sink(QObject):
    ready = Signal(object, object)  # key, peaks


class MiniWaveforms(QObject):
    """One worker per list: walks the candidates without peaks and posts each as it is done."""

    def __init__(self, model: CandidateListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._sink = _Sink(self)
        self._sink.ready.connect(self.model.set_peaks)
        self._worker: Worker | None = None

    def request(self, candidates: list[Candidate]) -> None:
        if self._worker is not None:
            self._worker.cancel()
        todo = [c for c in candidates if not self.model.has_peaks(peaks_key(c))]
        if not todo:
            return
        sink = self._sink

        def run(cancel, progress) -> int:
            for c in todo:
                if cancel.is_set():
                    break
                try:
                    sink.ready.emit(peaks_key(c), segment_peaks(c))
                except Exception as exc:  # noqa: BLE001 - an unreadable file just gets no waveform
                    log.info("no mini waveform for %s: %s", c.path, exc)
            return len(todo)

        self._worker = run_in_pool(run, None, None, with_progress=True)
