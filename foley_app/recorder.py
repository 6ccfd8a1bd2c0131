"""Search by a recording: a microphone ``Recorder`` with a level meter, and the dialog around it.

PortAudio calls back on its own thread; the callback only copies the block and its peak. A
GUI-thread timer turns the peak into ``level`` and stops at ``max_seconds`` (as ``audio.Player``
does for output). The WAV is written on a worker. Without PortAudio or an input device the
recorder says why (``available`` / ``reason``) and the dialog still takes a sound file.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from foley_app.workers import run_in_pool

log = logging.getLogger(__name__)

NO_INPUT = "no microphone (audio input device) found"
FLOOR_DB = -60.0


def _sounddevice():
    import sounddevice as sd

    return sd


def write_wav(path: Path, wave: np.ndarray, sample_rate: int) -> Path:
    """A 24-bit mono WAV, written atomically (worker thread)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(str(tmp), wave, sample_rate, subtype="PCM_24", format="WAV")
    tmp.replace(path)
    return path


class Recorder(QObject):
    """Records mono float32 from the default input device into a WAV under ``folder``."""

    level = Signal(float)  # peak of the last blocks, dBFS (FLOOR_DB .. 0)
    elapsed = Signal(float)  # seconds recorded
    finished = Signal(object)  # Path of the written WAV
    failed = Signal(str)

    def __init__(self, folder: Path, sample_rate: int = 48_000, max_seconds: float = 10.0,
                 sd=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self._sd = sd
        self._lock = threading.Lock()
        self._blocks: list[np.ndarray] = []
        self._frames = 0
        self._peak = 0.0
        self._stream = None
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._poll)
        self.available, self.reason = self.check()

    def check(self) -> tuple[bool, str]:
        """(True, '') when an input device can record mono at the sample rate, else (False, why)."""
        try:
            sd = self._sd or _sounddevice()
            self._sd = sd
            if not any(d.get("max_input_channels", 0) > 0 for d in sd.query_devices()):
                raise OSError("no input device")
            sd.check_input_settings(samplerate=self.sample_rate, channels=1, dtype="float32")
            return True, ""
        except Exception as exc:  # noqa: BLE001 - PortAudio raises assorted errors
            log.info("recording unavailable: %s", exc)
            return False, f"{NO_INPUT} ({exc})"

    @property
    def recording(self) -> bool:
        return self._stream is not None

    def start(self) -> bool:
        """Start recording; False (and ``failed``) when the device cannot be opened."""
        if self._stream is not None:
            return True
        if not self.available:
            self.failed.emit(self.reason)
            return False
        with self._lock:
            self._blocks, self._frames, self._peak = [], 0, 0.0
        try:
            self._stream = self._sd.InputStream(samplerate=self.sample_rate, channels=1, dtype="float32",
                                                callback=self._callback)
            self._stream.start()
        except Exception as exc:  # noqa: BLE001
            self._stream = None
            self.failed.emit(f"cannot record: {exc}")
            return False
        self._timer.start()
        return True

    def _callback(self, indata, frames, time_info, status) -> None:
        block = np.array(indata[:, 0] if indata.ndim > 1 else indata, np.float32, copy=True)
        with self._lock:
            self._blocks.append(block)
            self._frames += len(block)
            self._peak = max(self._peak, float(np.max(np.abs(block))) if len(block) else 0.0)

    def _poll(self) -> None:
        with self._lock:
            peak, self._peak = self._peak, 0.0
            frames = self._frames
        self.level.emit(max(FLOOR_DB, 20 * math.log10(peak)) if peak > 0 else FLOOR_DB)
        self.elapsed.emit(frames / self.sample_rate)
        if frames >= self.max_seconds * self.sample_rate:
            self.stop()

    def cancel(self) -> None:
        """Stop and throw the take away."""
        if self._stream is not None:
            with self._lock:
                self._blocks = []
            self._close()

    def _close(self) -> None:
        self._timer.stop()
        stream, self._stream = self._stream, None
        try:
            stream.stop()
            stream.close()
        except Exception as exc:  # noqa: BLE001
            log.info("closing the input stream: %s", exc)

    def stop(self) -> None:
        """Stop; the take is written on a worker and ``finished`` brings its path (``failed`` if empty)."""
        if self._stream is None:
            return
        self._close()
        with self._lock:
            wave = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
            self._blocks = []
        wave = wave[: int(self.max_seconds * self.sample_rate)]
        self.level.emit(FLOOR_DB)
        if len(wave) < self.sample_rate // 10:
            self.failed.emit("the recording is empty (under 0.1 s)")
            return
        path = self.folder / time.strftime("recording-%Y%m%d-%H%M%S.wav")
        run_in_pool(write_wav, self.finished.emit, lambda exc: self.failed.emit(f"cannot save the recording: {exc}"),
                    path, wave, self.sample_rate, owner=self)


class RecordDialog(QDialog):
    """Record (with a level meter) or choose a sound file; ``query_ready`` brings the file to search by."""

    query_ready = Signal(object)  # Path

    def __init__(self, recorder: Recorder, start_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Search by Recording")
        self.recorder = recorder
        self.start_dir = start_dir
        lay = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.meter = QProgressBar(self)
        self.meter.setRange(int(FLOOR_DB), 0)
        self.meter.setValue(int(FLOOR_DB))
        self.meter.setFormat("%v dB")
        self.meter.setToolTip("Input level (peak, dBFS)")
        lay.addWidget(self.meter)
        row = QHBoxLayout()
        self.record_button = QPushButton("Record", self)
        self.record_button.setToolTip(f"Record up to {recorder.max_seconds:g} s; press again to stop and search")
        self.record_button.clicked.connect(self._toggle)
        row.addWidget(self.record_button)
        self.file_button = QPushButton("Choose Sound File\u2026", self)
        self.file_button.clicked.connect(self._choose_file)
        row.addWidget(self.file_button)
        row.addStretch(1)
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)
        row.addWidget(close)
        lay.addLayout(row)
        recorder.level.connect(lambda db: self.meter.setValue(int(round(db))))
        recorder.elapsed.connect(self._on_elapsed)
        recorder.finished.connect(self._on_recorded)
        recorder.failed.connect(self._on_failed)
        self._idle_text()

    def _idle_text(self) -> None:
        if self.recorder.available:
            self.status.setText("Record a few seconds (the sound itself, or a vocal imitation of it), or choose a "
                                "sound file; the library's nearest sounds are listed. You can also drop a sound file "
                                "on the list.")
        else:
            self.status.setText(f"\u26a0 {self.recorder.reason}. You can still choose a sound file here, or drop one "
                                "on the list.")
        self.record_button.setEnabled(self.recorder.available)
        self.record_button.setText("Record")

    def _toggle(self) -> None:
        if self.recorder.recording:
            self.recorder.stop()
            self.record_button.setEnabled(False)
            self.status.setText("saving the take\u2026")
        elif self.recorder.start():
            self.record_button.setText("Stop and Search")
            self.status.setText("recording\u2026")

    def _on_elapsed(self, seconds: float) -> None:
        if self.recorder.recording:
            self.status.setText(f"recording\u2026 {seconds:.1f} s of {self.recorder.max_seconds:g} s")

    def _on_recorded(self, path: Path) -> None:
        self._idle_text()
        self.query_ready.emit(Path(path))
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._idle_text()
        self.status.setText(f"\u26a0 {message}")

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Search by a sound file", str(self.start_dir),
                                              "Sound files (*.wav *.flac *.ogg *.mp3 *.aif *.aiff *.m4a *.opus);;All files (*)")
        if path:
            self.query_ready.emit(Path(path))
            self.accept()

    def done(self, result: int) -> None:  # closing throws a take in progress away
        self.recorder.cancel()
        super().done(result)


__all__ = ["NO_INPUT", "RecordDialog", "Recorder", "write_wav"]
