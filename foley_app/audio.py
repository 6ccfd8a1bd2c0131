"""Audio output: a ``Player(QObject)`` facade over sounddevice that re-emits typed signals.

PortAudio calls back on its own thread; the callback only copies samples and advances a frame
counter. A GUI-thread timer turns that counter into ``position_changed`` and notices the end, so
no Qt object is touched off the GUI thread (friture's rule). Without PortAudio or an output
device the player reports ``available = False`` with the reason and the app keeps running.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)

UNAVAILABLE = "audio output unavailable"


def _sounddevice():
    """The sounddevice module, or raise OSError/ImportError when PortAudio is missing."""
    import sounddevice as sd

    return sd


def output_devices() -> list[str]:
    """Names of the output devices PortAudio sees ([] without PortAudio)."""
    try:
        sd = _sounddevice()
        return [d["name"] for d in sd.query_devices() if d.get("max_output_channels", 0) > 0]
    except Exception as exc:  # noqa: BLE001 - any PortAudio failure means "no devices"
        log.info("no audio devices: %s", exc)
        return []


class Player(QObject):
    """Plays one mono float32 buffer at a time; a new ``play`` stops the previous sound."""

    started = Signal(str)  # label of what started
    position_changed = Signal(float)  # seconds, including the buffer's start offset
    stopped = Signal()
    availability_changed = Signal(bool, str)  # available, reason

    def __init__(self, sample_rate: int = 48_000, device: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sample_rate = sample_rate
        self._volume = 0.8
        self._lock = threading.Lock()
        self._wave = np.zeros(0, np.float32)
        self._frame = 0
        self._offset = 0.0
        self._stream = None
        self._finished = False
        self._playing = False
        self._timer = QTimer(self)
        self._timer.setInterval(25)
        self._timer.timeout.connect(self._poll)
        self.available, self.reason = False, UNAVAILABLE
        self.set_device(device)

    # -- device --------------------------------------------------------------------------------
    def set_device(self, name: str) -> None:
        """Use output device ``name`` ('' = system default); updates ``available``/``reason``."""
        self.stop()
        self._device = name or None
        try:
            sd = _sounddevice()
            devices = [d for d in sd.query_devices() if d.get("max_output_channels", 0) > 0]
            if not devices:
                raise OSError("no output device")
            if self._device and not any(d["name"] == self._device for d in devices):
                log.warning("audio device %r not found; using the default", self._device)
                self._device = None
            sd.check_output_settings(device=self._device, samplerate=self.sample_rate, channels=1, dtype="float32")
            self.available, self.reason = True, ""
        except Exception as exc:  # noqa: BLE001 - PortAudio raises assorted errors
            self.available, self.reason = False, f"{UNAVAILABLE} ({exc})"
            log.warning("%s", self.reason)
        self.availability_changed.emit(self.available, self.reason)

    # -- transport -----------------------------------------------------------------------------
    def set_volume(self, volume: float) -> None:
        """Output gain, 0..1 (applied in the callback, so it changes while playing)."""
        self._volume = float(np.clip(volume, 0.0, 1.0))

    @property
    def volume(self) -> float:
        return self._volume

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def position(self) -> float:
        """Seconds into what is playing, plus its start offset."""
        return self._offset + self._frame / self.sample_rate

    def play(self, wave: np.ndarray, *, label: str = "", offset: float = 0.0) -> bool:
        """Start ``wave`` (mono float32 at ``sample_rate``); False if there is no audio output."""
        self.stop()
        if not self.available:
            return False
        sd = _sounddevice()
        with self._lock:
            self._wave = np.ascontiguousarray(wave, dtype=np.float32).reshape(-1)
            self._frame = 0
            self._offset = float(offset)
            self._finished = False
        try:
            self._stream = sd.OutputStream(
                samplerate=self.sample_rate, channels=1, dtype="float32", device=self._device,
                callback=self._callback, finished_callback=self._on_finished,
            )
            self._stream.start()
        except Exception as exc:  # noqa: BLE001
            self._stream = None
            self.available, self.reason = False, f"{UNAVAILABLE} ({exc})"
            log.warning("%s", self.reason)
            self.availability_changed.emit(False, self.reason)
            return False
        self._playing = True
        self._timer.start()
        self.started.emit(label)
        return True

    def stop(self) -> None:
        """Stop and close the stream; emits ``stopped`` if something was playing."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # noqa: BLE001
                log.debug("closing stream: %s", exc)
        self._timer.stop()
        if self._playing:
            self._playing = False
            self.stopped.emit()

    # -- PortAudio thread ----------------------------------------------------------------------
    def _callback(self, out, frames, time_info, status) -> None:
        with self._lock:
            chunk = self._wave[self._frame : self._frame + frames]
            n = len(chunk)
            out[:n, 0] = chunk * self._volume
            out[n:, 0] = 0.0
            self._frame += n
        if n < frames:
            import sounddevice as sd

            raise sd.CallbackStop

    def _on_finished(self) -> None:
        self._finished = True

    # -- GUI thread ----------------------------------------------------------------------------
    def _poll(self) -> None:
        self.position_changed.emit(self.position)
        if self._finished:
            self.stop()
