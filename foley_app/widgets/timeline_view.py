"""The multi-track timeline under the video: clips, drops from the list, move/trim/delete, gain, zoom.

The view renders a ``Document`` (plain dataclasses) and emits edit *requests*; the controller turns
them into undoable commands, so the document stays the single source of truth.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QScrollArea,
    QScrollBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from foley_app.core.timecode import DEFAULT_FPS, seconds_to_timecode
from foley_app.theme import C, category_colour
from foley_app.widgets.candidate_model import mime_to_payload
from foley_app.widgets.track_header import TrackHeader
from foley_app.widgets.wave_image import bars_image

log = logging.getLogger(__name__)

RULER_H = 22
LANE_H = 56
HEADER_W = 176
EDGE_PX = 6  # grab zone for trimming
PEAKS_PER_SECOND = 200  # resolution of the clip waveform cache


@dataclass
class _Drag:
    mode: str  # "move" | "trim-left" | "trim-right" | "seek"
    clip_id: str = ""
    track_index: int = 0
    grab_dt: float = 0.0  # mouse time - clip position at press
    position: float = 0.0
    source_start: float = 0.0
    source_end: float = 0.0
    moved: bool = False


class TimelineCanvas(QWidget):
    """Ruler + lanes, painted; all geometry goes through ``time_at``/``x_at``/``track_at``."""

    seek_requested = Signal(float)
    candidate_dropped = Signal(int, float, dict)  # track index, time (s), payload
    clip_moved = Signal(str, int, float)  # clip id, track index, new position
    clip_trimmed = Signal(str, str, float)  # clip id, edge 'start'|'end', new timeline time of that edge
    clip_deleted = Signal(str)
    clip_gain_requested = Signal(str, float)  # clip id, gain dB
    selection_changed = Signal(str)  # clip id or ""
    zoom_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.ClickFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.doc = None
        self.px_per_s = 60.0
        self.scroll_s = 0.0
        self.playhead = 0.0
        self.video_duration = 0.0
        self.fps = DEFAULT_FPS
        self.selected = ""
        self._drag: _Drag | None = None
        self._drop_hint: tuple[int, float] | None = None
        self._peaks: dict[str, np.ndarray] = {}  # sound path -> (n, 2) min/max at PEAKS_PER_SECOND
        self._clip_images: dict[str, tuple] = {}  # clip id -> (key, rendered waveform)
        self._preview: dict[str, tuple[int, float, float, float]] = {}  # clip id -> track, pos, s0, s1 while dragging

    # -- model ---------------------------------------------------------------------------------
    def set_document(self, doc) -> None:
        self.doc = doc
        self.refresh()

    def refresh(self) -> None:
        n = len(self.doc.tracks) if self.doc is not None else 0
        self.setFixedHeight(RULER_H + max(1, n) * LANE_H + 8)
        if self.selected and self._find(self.selected) is None:
            self.selected = ""
        self.update()

    def set_clip_peaks(self, path: str, peaks: np.ndarray) -> None:
        self._peaks[path] = peaks
        self.update()

    def has_peaks(self, path: str) -> bool:
        return path in self._peaks

    def _find(self, clip_id: str):
        if self.doc is None:
            return None
        for ti, track in enumerate(self.doc.tracks):
            for clip in track.clips:
                if clip.id == clip_id:
                    return ti, clip
        return None

    # -- geometry ------------------------------------------------------------------------------
    def x_at(self, t: float) -> float:
        return (t - self.scroll_s) * self.px_per_s

    def time_at(self, x: float) -> float:
        return max(0.0, x / self.px_per_s + self.scroll_s)

    def track_at(self, y: float) -> int:
        """Lane index under ``y`` (clamped to existing tracks); -1 on the ruler."""
        if y < RULER_H:
            return -1
        n = len(self.doc.tracks) if self.doc is not None else 0
        return min(max(0, int((y - RULER_H) // LANE_H)), max(0, n - 1))

    def lane_rect(self, index: int) -> QRectF:
        return QRectF(0, RULER_H + index * LANE_H, self.width(), LANE_H)

    def clip_rect(self, track_index: int, position: float, length: float) -> QRectF:
        lane = self.lane_rect(track_index)
        return QRectF(self.x_at(position), lane.top() + 3, max(3.0, length * self.px_per_s), LANE_H - 6)

    def _geometry(self, ti: int, clip) -> tuple[int, float, float, float]:
        if clip.id in self._preview:
            return self._preview[clip.id]
        return ti, clip.position, clip.source_start, clip.source_end

    def hit(self, pos: QPointF) -> tuple[str, str]:
        """(clip id, part) under a point; part is "body", "left", "right" or "" for nothing."""
        if self.doc is None or not self.doc.tracks or pos.y() < RULER_H:
            return "", ""
        ti = self.track_at(pos.y())
        for clip in reversed(self.doc.tracks[ti].clips):
            _, position, s0, s1 = self._geometry(ti, clip)
            r = self.clip_rect(ti, position, s1 - s0)
            if r.adjusted(-2, 0, 2, 0).contains(pos):
                if pos.x() - r.left() <= EDGE_PX:
                    return clip.id, "left"
                if r.right() - pos.x() <= EDGE_PX:
                    return clip.id, "right"
                return clip.id, "body"
        return "", ""

    def set_zoom(self, px_per_s: float, anchor_x: float | None = None) -> None:
        """Pixels per second (4..2000), keeping the time under ``anchor_x`` in place."""
        anchor_x = self.width() / 2 if anchor_x is None else anchor_x
        t = self.time_at(anchor_x)
        self.px_per_s = min(2000.0, max(4.0, px_per_s))
        self.scroll_s = max(0.0, t - anchor_x / self.px_per_s)
        self.zoom_changed.emit()
        self.update()

    def set_scroll(self, seconds: float) -> None:
        self.scroll_s = max(0.0, seconds)
        self.update()

    def visible_seconds(self) -> float:
        return self.width() / self.px_per_s

    def set_playhead(self, t: float, follow: bool = False) -> None:
        self.playhead = t
        if follow and not (self.scroll_s <= t <= self.scroll_s + self.visible_seconds() * 0.95):
            self.scroll_s = max(0.0, t - self.visible_seconds() * 0.1)
            self.zoom_changed.emit()
        self.update()

    def content_seconds(self) -> float:
        end = self.video_duration
        if self.doc is not None:
            for track in self.doc.tracks:
                for clip in track.clips:
                    end = max(end, clip.position + clip.source_end - clip.source_start)
        return end + 5.0

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), C.bg)
        self._paint_ruler(p)
        if self.doc is not None:
            any_solo = any(t.solo for t in self.doc.tracks)
            for ti, track in enumerate(self.doc.tracks):
                lane = self.lane_rect(ti)
                p.fillRect(lane.adjusted(0, 1, 0, -1), C.panel if ti % 2 == 0 else C.panel_alt)
                if self.video_duration > 0:
                    x_end = self.x_at(self.video_duration)
                    if x_end < self.width():
                        p.fillRect(QRectF(x_end, lane.top(), self.width() - x_end, lane.height()), QColor(0, 0, 0, 70))
                silent = track.mute or (any_solo and not track.solo)
                for clip in track.clips:
                    if clip.id not in self._preview:
                        self._paint_clip(p, ti, clip, silent)
            if self.doc.tracks and not self.doc.clip_count() and self._drop_hint is None:
                p.setPen(C.text_dim)
                p.drawText(self.lane_rect(0).adjusted(12, 0, -12, 0), Qt.AlignLeft | Qt.AlignVCenter,
                           "Drag sounds from the list onto a track: each sound's onset snaps to where you drop it "
                           "(or press P to place the selected sound at the playhead)")
            for clip_id in self._preview:  # dragged clips on top
                found = self._find(clip_id)
                if found:
                    self._paint_clip(p, found[0], found[1], False)
        if self._drop_hint is not None:
            ti, t = self._drop_hint
            x = self.x_at(t)
            lane = self.lane_rect(ti)
            p.fillRect(QRectF(x, lane.top() + 3, 80, lane.height() - 6), C.accent_wash)
            p.setPen(QPen(C.accent, 2, Qt.DashLine))
            p.drawLine(QPointF(x, RULER_H), QPointF(x, self.height()))
        x = self.x_at(self.playhead)
        p.setPen(QPen(C.accent, 1.5))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        tri = QPainterPath()
        tri.moveTo(x - 5, 0)
        tri.lineTo(x + 5, 0)
        tri.lineTo(x, 7)
        tri.closeSubpath()
        p.fillPath(tri, C.accent)

    def _paint_ruler(self, p: QPainter) -> None:
        p.fillRect(QRectF(0, 0, self.width(), RULER_H), C.ruler)
        # a label every ~90 px, at a round number of seconds
        steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600]
        step = next((s for s in steps if s * self.px_per_s >= 90), 600)
        minor = step / 5
        t0 = math.floor(self.scroll_s / minor) * minor
        t_end = self.scroll_s + self.visible_seconds()
        p.setPen(QPen(C.border, 1))
        t = t0
        while t <= t_end:
            x = self.x_at(t)
            major = abs(t / step - round(t / step)) < 1e-6
            p.drawLine(QPointF(x, RULER_H - (9 if major else 4)), QPointF(x, RULER_H))
            if major:
                p.setPen(C.text_dim)
                p.drawText(QRectF(x + 3, 0, 90, RULER_H - 6), Qt.AlignLeft | Qt.AlignVCenter,
                           seconds_to_timecode(t, self.fps) if step < 1 else seconds_to_timecode(t, self.fps)[:8])
                p.setPen(QPen(C.border, 1))
            t += minor

    def _paint_clip(self, p: QPainter, ti: int, clip, silent: bool) -> None:
        ti, position, s0, s1 = self._geometry(ti, clip)
        r = self.clip_rect(ti, position, s1 - s0)
        if r.right() < 0 or r.left() > self.width():
            return
        base = category_colour(clip.category or clip.name)
        fill = QColor(base)
        fill.setAlpha(110 if silent else 200)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(C.accent if clip.id == self.selected else base.lighter(140), 2 if clip.id == self.selected else 1))
        p.setBrush(fill.darker(170))
        p.drawRoundedRect(r, 3, 3)
        p.setRenderHint(QPainter.Antialiasing, False)
        peaks = self._peaks.get(str(clip.sound_path))
        body = r.adjusted(1, 17, -1, -2)
        if peaks is not None and 2 < body.width() < 30_000 and body.height() > 2:
            key = (clip.id, s0, s1, clip.gain_db, int(body.width()), int(body.height()), silent, id(peaks))
            img = self._clip_images.get(clip.id)
            if img is None or img[0] != key:
                i0, i1 = int(s0 * PEAKS_PER_SECOND), int(s1 * PEAKS_PER_SECOND)
                seg = peaks[max(0, i0) : max(i0 + 1, i1)]
                top = max(1e-6, float(np.abs(peaks).max())) / (10 ** (clip.gain_db / 20))
                colour = C.text_dim if silent else base.lighter(170)
                img = (key, bars_image(seg[:, 0] / top, seg[:, 1] / top, int(body.width()), int(body.height()), colour))
                self._clip_images[clip.id] = img
            p.drawImage(body.topLeft(), img[1])
        p.setPen(C.text)
        label = clip.display_name
        if abs(clip.gain_db) > 0.05:
            label += f"  {clip.gain_db:+.1f} dB"
        p.drawText(r.adjusted(5, 1, -4, 0).intersected(QRectF(0, r.top(), self.width(), 17)), Qt.AlignLeft | Qt.AlignTop, label)

    # -- mouse & keys --------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        clip_id, part = self.hit(pos)
        if event.button() == Qt.RightButton:
            if clip_id:
                self._select(clip_id)
                self._context_menu(clip_id, event.globalPosition().toPoint())
            return
        if not clip_id:
            self._select("")
            self._drag = _Drag("seek")
            self.seek_requested.emit(self.time_at(pos.x()))
            return
        self._select(clip_id)
        ti, clip = self._find(clip_id)
        mode = {"body": "move", "left": "trim-left", "right": "trim-right"}[part]
        self._drag = _Drag(mode, clip_id, ti, self.time_at(pos.x()) - clip.position, clip.position,
                           clip.source_start, clip.source_end)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        d = self._drag
        if d is None:
            _, part = self.hit(pos)
            self.setCursor(Qt.SizeHorCursor if part in ("left", "right") else (Qt.OpenHandCursor if part else Qt.ArrowCursor))
            return
        t = self.time_at(pos.x())
        if d.mode == "seek":
            self.seek_requested.emit(t)
            return
        found = self._find(d.clip_id)
        if found is None:
            return
        _, clip = found
        d.moved = True
        if d.mode == "move":
            ti = self.track_at(pos.y()) if pos.y() >= RULER_H else d.track_index
            self._preview[d.clip_id] = (ti, max(0.0, t - d.grab_dt), d.source_start, d.source_end)
        elif d.mode == "trim-left":
            # the sound stays where it is on the timeline; only its start is cut
            s0 = min(d.source_end - 0.02, max(0.0, d.source_start + (t - d.position)))
            self._preview[d.clip_id] = (d.track_index, d.position + (s0 - d.source_start), s0, d.source_end)
        else:
            s1 = max(d.source_start + 0.02, d.source_end + (t - (d.position + d.source_end - d.source_start)))
            self._preview[d.clip_id] = (d.track_index, d.position, d.source_start, s1)
        self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        d, self._drag = self._drag, None
        if d is None or d.mode == "seek":
            return
        preview = self._preview.pop(d.clip_id, None)
        self.update()
        if not d.moved or preview is None:
            return
        ti, position, s0, s1 = preview
        if d.mode == "move":
            if ti != d.track_index or abs(position - d.position) > 1e-6:
                self.clip_moved.emit(d.clip_id, ti, position)
        elif d.mode == "trim-left" and abs(s0 - d.source_start) > 1e-6:
            self.clip_trimmed.emit(d.clip_id, "start", position)
        elif d.mode == "trim-right" and abs(s1 - d.source_end) > 1e-6:
            self.clip_trimmed.emit(d.clip_id, "end", position + s1 - s0)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        clip_id, _ = self.hit(event.position())
        if clip_id:
            self._ask_gain(clip_id)

    def wheelEvent(self, event) -> None:  # noqa: N802
        dy = event.angleDelta().y() or event.angleDelta().x()
        if event.modifiers() & Qt.ControlModifier:
            self.set_zoom(self.px_per_s * (1.2 if dy > 0 else 1 / 1.2), event.position().x())
        elif event.modifiers() & Qt.ShiftModifier or event.angleDelta().x():
            self.set_scroll(self.scroll_s - dy / self.px_per_s)
            self.zoom_changed.emit()
        else:
            event.ignore()  # let the scroll area scroll vertically

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self.selected and event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.clip_deleted.emit(self.selected)
            return
        if self.selected and event.key() in (Qt.Key_Plus, Qt.Key_Equal, Qt.Key_Minus):
            found = self._find(self.selected)
            if found:
                step = 1.0 if event.key() != Qt.Key_Minus else -1.0
                self.clip_gain_requested.emit(self.selected, found[1].gain_db + step)
            return
        super().keyPressEvent(event)

    def _select(self, clip_id: str) -> None:
        if clip_id != self.selected:
            self.selected = clip_id
            self.selection_changed.emit(clip_id)
            self.update()

    def _context_menu(self, clip_id: str, global_pos) -> None:
        found = self._find(clip_id)
        if found is None:
            return
        gain = found[1].gain_db
        menu = QMenu(self)
        menu.addAction("Clip gain\u2026", lambda: self._ask_gain(clip_id))
        menu.addAction("Gain +3 dB", lambda: self.clip_gain_requested.emit(clip_id, gain + 3))
        menu.addAction("Gain \u22123 dB", lambda: self.clip_gain_requested.emit(clip_id, gain - 3))
        menu.addAction("Reset gain", lambda: self.clip_gain_requested.emit(clip_id, 0.0))
        menu.addSeparator()
        menu.addAction("Delete clip", lambda: self.clip_deleted.emit(clip_id))
        menu.exec(global_pos)

    def _ask_gain(self, clip_id: str) -> None:
        found = self._find(clip_id)
        if found is None:
            return
        value, ok = QInputDialog.getDouble(self, "Clip gain", "Gain (dB):", found[1].gain_db, -60.0, 24.0, 1)
        if ok:
            self.clip_gain_requested.emit(clip_id, value)

    # -- drag and drop from the candidate list -------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if mime_to_payload(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if pos.y() < RULER_H:
            self._drop_hint = None
            event.ignore()
        else:
            self._drop_hint = (self.track_at(pos.y()), self.time_at(pos.x()))
            event.acceptProposedAction()
        self.update()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._drop_hint = None
        self.update()

    def dropEvent(self, event) -> None:  # noqa: N802
        self._drop_hint = None
        self.update()
        payload = mime_to_payload(event.mimeData())
        pos = event.position()
        if payload is None or self.doc is None or not self.doc.tracks:
            event.ignore()
            return
        ti = self.track_at(max(pos.y(), RULER_H))
        event.setDropAction(Qt.CopyAction)
        event.accept()
        self.candidate_dropped.emit(ti, self.time_at(pos.x()), payload)


class TimelineView(QWidget):
    """Track headers + canvas in a vertical scroll area, with a horizontal scroll bar for time."""

    mute_toggled = Signal(str, bool)  # track id, on
    solo_toggled = Signal(str, bool)
    volume_changed = Signal(str, float)  # track id, dB
    rename_requested = Signal(str, str)  # track id, new name
    remove_requested = Signal(str)  # track id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = TimelineCanvas()
        self.headers_box = QWidget()
        self.headers_box.setFixedWidth(HEADER_W)
        self.headers_layout = QVBoxLayout(self.headers_box)
        self.headers_layout.setContentsMargins(0, RULER_H, 0, 0)
        self.headers_layout.setSpacing(0)
        self.headers: list[TrackHeader] = []
        inner = QWidget()
        row = QHBoxLayout(inner)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(1)
        row.addWidget(self.headers_box, 0, Qt.AlignTop)
        row.addWidget(self.canvas, 1, Qt.AlignTop)
        self.area = QScrollArea(self)
        self.area.setWidget(inner)
        self.area.setWidgetResizable(True)
        self.area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.area.setFrameShape(QScrollArea.NoFrame)
        self.hbar = QScrollBar(Qt.Horizontal, self)
        self.hbar.valueChanged.connect(lambda v: self.canvas.set_scroll(v / 10))
        self.canvas.zoom_changed.connect(self._sync_scrollbar)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.area, 1)
        lay.addWidget(self.hbar)

    def set_document(self, doc) -> None:
        self.canvas.set_document(doc)
        self.refresh()

    def refresh(self) -> None:
        """Rebuild headers if the tracks changed and repaint."""
        doc = self.canvas.doc
        tracks = doc.tracks if doc is not None else []
        if [h.track_id for h in self.headers] != [t.id for t in tracks]:
            for h in self.headers:
                h.setParent(None)
                h.deleteLater()
            self.headers = []
            for t in tracks:
                h = TrackHeader(t.id, t.name, LANE_H, self.headers_box)
                h.mute_toggled.connect(self.mute_toggled)
                h.solo_toggled.connect(self.solo_toggled)
                h.volume_changed.connect(self.volume_changed)
                h.rename_requested.connect(self.rename_requested)
                h.remove_requested.connect(self.remove_requested)
                self.headers_layout.addWidget(h)
                self.headers.append(h)
            self.headers_layout.addStretch(1)
        for h, t in zip(self.headers, tracks):
            h.sync(t.name, t.mute, t.solo, t.volume_db)
        self.canvas.refresh()
        self._sync_scrollbar()

    def _sync_scrollbar(self) -> None:
        total = self.canvas.content_seconds()
        page = self.canvas.visible_seconds()
        self.hbar.blockSignals(True)
        self.hbar.setRange(0, int(max(0.0, total - page) * 10))
        self.hbar.setPageStep(int(page * 10))
        self.hbar.setValue(int(self.canvas.scroll_s * 10))
        self.hbar.blockSignals(False)

    def zoom(self, factor: float) -> None:
        self.canvas.set_zoom(self.canvas.px_per_s * factor, self.canvas.x_at(self.canvas.playhead))

    def zoom_to_fit(self) -> None:
        total = max(1.0, self.canvas.content_seconds())
        self.canvas.scroll_s = 0.0
        self.canvas.set_zoom(max(4.0, (self.canvas.width() - 10) / total), 0.0)
