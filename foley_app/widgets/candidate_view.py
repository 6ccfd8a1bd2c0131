"""The ranked list: a ``QListView`` with a dense delegate (rank, name, category, score bar, length, mini waveform)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from engine.api import Candidate
from foley_app.resources import icon
from foley_app.theme import C, category_colour
from foley_app.widgets.candidate_model import Role
from foley_app.widgets.wave_image import bars_image

log = logging.getLogger(__name__)

ROW_HEIGHT = 36


def _fmt_duration(s: float) -> str:
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}:{int(s % 60):02d}"


class CandidateDelegate(QStyledItemDelegate):
    """Paints one candidate row; no widgets per row, so thousands of rows stay cheap."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._images: dict[tuple, object] = {}  # mini waveforms rendered once per sound segment

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        return QSize(300, ROW_HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        r = QRectF(option.rect)
        p.save()
        p.setRenderHint(QPainter.Antialiasing)
        selected = bool(option.state & QStyle.State_Selected)
        p.fillRect(r, C.select if selected else (C.panel_alt if index.row() % 2 else C.panel))
        if option.state & QStyle.State_MouseOver and not selected:
            p.fillRect(r, C.raised)
        x = r.left() + 4
        mid = r.top() + r.height() / 2
        # rank
        p.setPen(C.accent if index.data(Role.Rank) == 1 else C.text_dim)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.9)
        p.setFont(small)
        p.drawText(QRectF(x, r.top(), 22, r.height()), Qt.AlignRight | Qt.AlignVCenter, str(index.data(Role.Rank)))
        x += 28
        # mini waveform of the matched segment
        wave_w = 64.0
        wr = QRectF(x, r.top() + 4, wave_w, r.height() - 8)
        p.fillRect(wr, C.ruler)
        peaks = index.data(Role.Peaks)
        if peaks is not None and len(peaks):
            key = (index.data(Role.Path), index.data(Role.Start), int(wr.width()), int(wr.height()))
            img = self._images.get(key)
            if img is None:
                img = bars_image(-peaks, peaks, int(wr.width()), int(wr.height()), C.wave)
                if len(self._images) > 2000:
                    self._images.clear()
                self._images[key] = img
            p.drawImage(wr.topLeft(), img)
        x += wave_w + 8
        # right side: score bar and duration
        right = r.right() - 6
        dur_w = 40.0
        p.setPen(C.text_dim)
        p.drawText(QRectF(right - dur_w, r.top(), dur_w, r.height()), Qt.AlignRight | Qt.AlignVCenter,
                   _fmt_duration(float(index.data(Role.Duration) or 0.0)))
        right -= dur_w + 8
        bar_w = 56.0
        score = float(index.data(Role.Score) or 0.0)
        br = QRectF(right - bar_w, mid - 3, bar_w, 6)
        p.setPen(Qt.NoPen)
        p.setBrush(C.ruler)
        p.drawRoundedRect(br, 3, 3)
        p.setBrush(C.accent if selected else C.wave)
        p.drawRoundedRect(QRectF(br.left(), br.top(), br.width() * max(0.02, min(1.0, score)), br.height()), 3, 3)
        p.setPen(C.text_dim)
        p.drawText(QRectF(br.left() - 36, r.top(), 32, r.height()), Qt.AlignRight | Qt.AlignVCenter, f"{score:.2f}")
        right = br.left() - 40
        # name and category
        name_font = QFont(option.font)
        name_font.setBold(True)
        p.setFont(name_font)
        p.setPen(C.text)
        text_w = max(10.0, right - x)
        fm = p.fontMetrics()
        p.drawText(QRectF(x, r.top() + 3, text_w, r.height() / 2), Qt.AlignLeft | Qt.AlignVCenter,
                   fm.elidedText(str(index.data(Role.Name)), Qt.ElideMiddle, int(text_w)))
        category = str(index.data(Role.Category) or "")
        p.setFont(small)
        if category:
            cw = min(text_w, p.fontMetrics().horizontalAdvance(category) + 10)
            cr = QRectF(x, mid + 2, cw, r.height() / 2 - 6)
            p.setPen(Qt.NoPen)
            p.setBrush(category_colour(category))
            p.drawRoundedRect(cr, 3, 3)
            p.setPen(C.text)
            p.drawText(cr, Qt.AlignCenter, p.fontMetrics().elidedText(category, Qt.ElideRight, int(cw - 6)))
        p.restore()


class CandidateView(QListView):
    """The list widget: drag source, context menu with "more like this", Enter/Space to audition."""

    audition_requested = Signal(object)  # Candidate
    more_like_this = Signal(object)  # Candidate
    reveal_requested = Signal(object)  # Candidate
    not_this = Signal(object)  # Candidate: "this does not fit the picture"
    sound_dropped = Signal(object)  # Path of an audio file dropped on the list: search by it

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setItemDelegate(CandidateDelegate(self))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setDefaultDropAction(Qt.CopyAction)
        self.setAcceptDrops(True)  # sound files from outside: search by them (the list itself stays a drag source)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu)
        self.clicked.connect(lambda idx: self.audition_requested.emit(idx.data(Role.Candidate)))

    def current_candidate(self) -> Candidate | None:
        idx = self.currentIndex()
        return idx.data(Role.Candidate) if idx.isValid() else None

    @staticmethod
    def _sound_files(event) -> list[Path]:
        from engine.api import INDEXED_EXTENSIONS

        md = event.mimeData()
        if not md.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in md.urls() if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in INDEXED_EXTENSIONS]

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.source() is not self and self._sound_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.source() is not self and self._sound_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = self._sound_files(event) if event.source() is not self else []
        if files:
            event.acceptProposedAction()
            self.sound_dropped.emit(files[0])
        else:
            event.ignore()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key_Return, Qt.Key_Enter):
            c = self.current_candidate()
            if c is not None:
                self.audition_requested.emit(c)
            return
        super().keyPressEvent(event)

    def _on_context_menu(self, pos) -> None:
        idx = self.indexAt(pos)
        if not idx.isValid():
            return
        c = idx.data(Role.Candidate)
        menu = QMenu(self)
        menu.addAction(icon("play"), "Audition", lambda: self.audition_requested.emit(c))
        menu.addAction(icon("similar"), "More like this", lambda: self.more_like_this.emit(c))
        menu.addAction(icon("delete"), "Not this (X)", lambda: self.not_this.emit(c))
        menu.addAction(icon("folder-open"), "Copy file path", lambda: self.reveal_requested.emit(c))
        menu.exec(self.viewport().mapToGlobal(pos))

