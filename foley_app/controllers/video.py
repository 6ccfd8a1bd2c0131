"""Video: probing on a worker, a decoder thread for scrub/playback frames, and 1-fps thumbnails."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from engine.api import VideoInfo, frame_times, iter_frames_at, probe_video
from foley_app.widgets.video_view import rgb_to_qimage
from foley_app.workers import Worker, run_in_pool

log = logging.getLogger(__name__)

THUMB_HEIGHT = 72


class FrameDecoder(QObject):
    """Owns one OpenCV capture on its own thread; ``request(t)`` keeps only the latest wish.

    Small forward jumps (playback) decode sequentially; anything else seeks a little before the
    target and decodes forward to the exact frame.
    """

    frame_ready = Signal(float, QImage)  # requested time, the frame scaled to fit the target size
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._path: Path | None = None
        self._wanted: float | None = None
        self._target: tuple[int, int] = (0, 0)  # fit frames into this size here, not on the GUI thread
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="frame-decoder", daemon=True)
        self._thread.start()

    def open(self, path: Path) -> None:
        with self._cond:
            self._path = path
            self._wanted = None
            self._cond.notify()

    def request(self, t: float) -> None:
        with self._cond:
            self._wanted = max(0.0, t)
            self._cond.notify()

    def set_target_size(self, width: int, height: int) -> None:
        with self._cond:
            self._target = (max(0, int(width)), max(0, int(height)))

    def _scaled(self, rgb: np.ndarray) -> QImage:
        import cv2

        tw, th = self._target
        h, w = rgb.shape[:2]
        if tw > 0 and th > 0:
            scale = min(tw / w, th / h)
            size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
            if size != (w, h):
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return rgb_to_qimage(rgb)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=2.0)

    def _loop(self) -> None:
        import cv2

        cap, cap_path, pos = None, None, -1.0  # pos: time of the last decoded frame
        last: np.ndarray | None = None
        while True:
            with self._cond:
                while not self._stop and (self._wanted is None or self._path is None):
                    self._cond.wait()
                if self._stop:
                    break
                t, path, self._wanted = self._wanted, self._path, None
            try:
                if cap is None or cap_path != path:
                    if cap is not None:
                        cap.release()
                    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
                    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
                    if not cap.isOpened():
                        raise OSError(f"{path}: cannot be opened for playback")
                    cap_path, pos, last = path, -1.0, None
                if not (pos < t <= pos + 2.0) or last is None:
                    cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, t - 0.5) * 1000.0)
                    last = None
                frame = last
                while True:
                    if not cap.grab():
                        break
                    t_frame = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    if frame is not None and t_frame > t + 1e-3:
                        # we passed the target: keep the previous frame as the one shown at t
                        ok, bgr = cap.retrieve()
                        if ok:
                            last, pos = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t_frame
                        break
                    ok, bgr = cap.retrieve()
                    if ok:
                        frame, pos = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t_frame
                        last = frame
                if frame is None:
                    frame = last
                if frame is not None:
                    self.frame_ready.emit(t, self._scaled(frame))
            except Exception as exc:  # noqa: BLE001 - report, keep the thread alive
                log.warning("frame decoding failed at %.3f s: %s", t, exc)
                self.failed.emit(str(exc))
                cap, cap_path = None, None
        if cap is not None:
            cap.release()


class ThumbnailSink(QObject):
    """Carries thumbnails from the worker to the filmstrip."""

    thumbnail = Signal(int, QImage)


def _make_thumbnails(path: Path, duration: float, sink: ThumbnailSink, cancel: threading.Event, progress) -> int:
    import cv2

    times = frame_times(duration)
    for i, (_, rgb) in enumerate(iter_frames_at(path, times)):
        if cancel.is_set():
            break
        h, w = rgb.shape[:2]
        small = cv2.resize(rgb, (max(1, int(w * THUMB_HEIGHT / h)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
        sink.thumbnail.emit(i, rgb_to_qimage(small))
        progress(i + 1, len(times))
    return len(times)


class VideoController(QObject):
    """Opens videos and feeds the frame view and filmstrip; the UI thread never decodes."""

    opened = Signal(object)  # VideoInfo
    open_failed = Signal(str, str)  # path, message
    frame_ready = Signal(float, QImage)
    thumbnail_ready = Signal(int, QImage)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: VideoInfo | None = None
        self.decoder = FrameDecoder(self)
        self.decoder.frame_ready.connect(self.frame_ready)
        self._thumbs = ThumbnailSink(self)
        self._thumbs.thumbnail.connect(self.thumbnail_ready)
        self._thumb_worker: Worker | None = None
        self._open_id = 0

    @property
    def path(self) -> Path | None:
        return self.info.path if self.info else None

    def open(self, path: Path) -> None:
        """Probe on a worker; ``opened`` or ``open_failed`` follows."""
        self._open_id += 1
        oid = self._open_id
        run_in_pool(probe_video, lambda info: self._on_probed(oid, info), lambda exc: self._on_failed(oid, path, exc), Path(path),
                    owner=self)

    def _on_probed(self, oid: int, info: VideoInfo) -> None:
        if oid != self._open_id:
            return
        if info.duration <= 0:
            self.open_failed.emit(str(info.path), f"{info.path}: the video has no duration; it may be damaged")
            return
        self.info = info
        self.decoder.open(info.path)
        self.decoder.request(0.0)
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        self._thumb_worker = run_in_pool(_make_thumbnails, None, None, info.path, info.duration, self._thumbs, with_progress=True)
        self.opened.emit(info)

    def _on_failed(self, oid: int, path: Path, exc: BaseException) -> None:
        if oid == self._open_id:
            self.open_failed.emit(str(path), str(exc))

    def request_frame(self, t: float) -> None:
        if self.info is not None:
            self.decoder.request(t)

    def close(self) -> None:
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        self.decoder.close()
