"""The "Sounds" panel: what the list is for, text/category filters, the ranked list, and the audition strip."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foley_app.resources import icon
from foley_app.widgets.candidate_model import CandidateListModel
from foley_app.widgets.candidate_view import CandidateView
from foley_app.widgets.waveform_view import WaveformView

log = logging.getLogger(__name__)

ALL_CATEGORIES = "All categories"


class FilterEdit(QLineEdit):
    """The text filter. Esc clears it and hands the keyboard back (``escaped``), so Space, J, K, L
    drive playback again instead of typing into the box (the window's Esc shortcut does not fire here)."""

    escaped = Signal()

    def event(self, e) -> bool:  # noqa: ANN001 - Qt override
        if e.type() == QEvent.ShortcutOverride and e.key() == Qt.Key_Escape and not e.modifiers():
            e.accept()  # Esc is ours while typing a filter
            return True
        return super().event(e)

    def keyPressEvent(self, e) -> None:  # noqa: ANN001, N802 - Qt override
        if e.key() == Qt.Key_Escape and not e.modifiers():
            self.clear()
            self.escaped.emit()
            return
        super().keyPressEvent(e)


class SoundsPanel(QWidget):
    """Layout only; the window connects the signals to the engine and audition controllers."""

    filters_changed = Signal(str, str)  # text, category ('' = all)
    top_k_changed = Signal(int)
    segment_mode_changed = Signal(bool)
    back_to_frame = Signal()
    play_clicked = Signal()
    whole_file_changed = Signal(bool)
    auto_audition_changed = Signal(bool)
    volume_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        head = QHBoxLayout()
        self.banner = QLabel("Open a video to get sound suggestions", self)
        self.banner.setObjectName("banner")
        self.banner.setToolTip("The moment (or sound) the list below is ranked for, where its embedding came from, and how long ranking took")
        head.addWidget(self.banner, 1)
        self.back_button = QToolButton(self)
        self.back_button.setText("Back to frame")
        self.back_button.setToolTip("Show the list for the frame at the playhead again")
        self.back_button.clicked.connect(self.back_to_frame)
        self.back_button.setVisible(False)
        head.addWidget(self.back_button)
        lay.addLayout(head)

        filt = QHBoxLayout()
        filt.setSpacing(4)
        self.search = FilterEdit(self)
        self.search.setPlaceholderText("Filter: name, description, tag\u2026  (Esc: clear)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.LeadingPosition)
        self.search.setToolTip("Only sounds whose name, description or path contains these words (Ctrl+F)")
        filt.addWidget(self.search, 1)
        self.category = QComboBox(self)
        self.category.addItem(ALL_CATEGORIES)
        self.category.setToolTip("Only sounds of one category")
        self.category.setMinimumWidth(120)
        filt.addWidget(self.category)
        self.mode = QToolButton(self)
        self.mode.setText("Segments")
        self.mode.setCheckable(True)
        self.mode.setToolTip("Off: one row per file (its best 1-s segment). On: one row per matching segment")
        self.mode.toggled.connect(self.segment_mode_changed)
        filt.addWidget(self.mode)
        self.top_k = QSpinBox(self)
        self.top_k.setRange(5, 200)
        self.top_k.setValue(25)
        self.top_k.setPrefix("top ")
        self.top_k.setObjectName("compact")
        self.top_k.setMinimumWidth(72)
        self.top_k.setToolTip("How many sounds to list (type, or use the mouse wheel / arrow keys)")
        self.top_k.valueChanged.connect(self.top_k_changed)
        filt.addWidget(self.top_k)
        lay.addLayout(filt)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(200)
        self._filter_timer.timeout.connect(self._emit_filters)
        self.search.textChanged.connect(lambda _: self._filter_timer.start())
        self.category.currentIndexChanged.connect(lambda _: self._emit_filters())

        self.model = CandidateListModel(self)
        self.view = CandidateView(self)
        self.view.setFocusPolicy(Qt.StrongFocus)  # a click on the list takes the keyboard from the filter
        self.view.setModel(self.model)
        lay.addWidget(self.view, 1)

        audition = QHBoxLayout()
        audition.setSpacing(3)
        self.play_button = QToolButton(self)
        self.play_button.setIcon(icon("play"))
        self.play_button.setToolTip("Audition the selected sound (Enter in the list); click again to stop")
        self.play_button.clicked.connect(self.play_clicked)
        audition.addWidget(self.play_button)
        self.whole = QToolButton(self)
        self.whole.setText("Whole file")
        self.whole.setCheckable(True)
        self.whole.setToolTip("Play the whole file instead of the matched 1-s segment")
        self.whole.toggled.connect(self.whole_file_changed)
        audition.addWidget(self.whole)
        self.auto = QToolButton(self)
        self.auto.setText("Auto")
        self.auto.setCheckable(True)
        self.auto.setToolTip("Audition automatically when the selection changes")
        self.auto.toggled.connect(self.auto_audition_changed)
        audition.addWidget(self.auto)
        audition.addStretch(1)
        self.speaker = QLabel(self)
        self.speaker.setPixmap(icon("speaker").pixmap(16, 16))
        audition.addWidget(self.speaker)
        self.volume = QSlider(Qt.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setFixedWidth(90)
        self.volume.setToolTip("Audition and playback volume")
        self.volume.valueChanged.connect(lambda v: self.volume_changed.emit(v / 100))
        audition.addWidget(self.volume)
        lay.addLayout(audition)
        self.waveform = WaveformView(self)
        self.waveform.setFixedHeight(72)
        lay.addWidget(self.waveform)

    def _emit_filters(self) -> None:
        cat = self.category.currentText()
        self.filters_changed.emit(self.search.text().strip(), "" if cat == ALL_CATEGORIES else cat)

    def set_categories(self, names: list[str]) -> None:
        current = self.category.currentText()
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItem(ALL_CATEGORIES)
        self.category.addItems(sorted(names, key=str.lower))
        i = self.category.findText(current)
        self.category.setCurrentIndex(max(0, i))
        self.category.blockSignals(False)

    def set_banner(self, text: str, similar: bool = False) -> None:
        self.banner.setText(text)
        self.back_button.setVisible(similar)

    def set_audio_available(self, available: bool, reason: str) -> None:
        self.speaker.setPixmap(icon("speaker" if available else "speaker-off").pixmap(16, 16))
        self.speaker.setToolTip("" if available else reason)
