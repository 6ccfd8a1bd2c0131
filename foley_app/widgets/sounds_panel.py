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

from foley_app.core.timecode import seconds_to_timecode
from foley_app.resources import icon
from foley_app.widgets.candidate_model import CandidateListModel
from foley_app.widgets.candidate_view import CandidateView
from foley_app.widgets.waveform_view import WaveformView

log = logging.getLogger(__name__)

ALL_CATEGORIES = "All categories"
PRIOR_STEP = 0.25  # the common <-> specific dial: 0 to PRIOR_STEPS * PRIOR_STEP in steps of 0.25
PRIOR_STEPS = 16
PRIOR_DEBOUNCE_MS = 150  # a drag or held arrow key re-ranks once it settles
PRIOR_TIP = ("Specific \u2194 Common: how much the list favours sounds that are common in footage.\n"
             "0 = the picture alone (the most specific sounds); higher = common sounds rank higher.\n"
             "Saved with the project. Keys: \u2190/\u2192 or \u2191/\u2193 a step, PgUp/PgDn, Home/End; Esc gives the keys back.")
NO_PRIOR_TIP = "This model has no sound prior: its list ranks by the picture alone, so there is nothing to dial"
_DIAL_KEYS = {Qt.Key_Left, Qt.Key_Right, Qt.Key_Up, Qt.Key_Down, Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_Home, Qt.Key_End}


class FilterEdit(QLineEdit):
    """The text filter. Esc clears it and hands the keyboard back (``escaped``), so Space, J, K, L
    drive playback again instead of typing into the box (the window's Esc shortcut does not fire here)."""

    escaped = Signal()

    def event(self, e) -> bool:
        if e.type() == QEvent.ShortcutOverride and e.key() == Qt.Key_Escape and not e.modifiers():
            e.accept()  # Esc is ours while typing a filter
            return True
        return super().event(e)

    def keyPressEvent(self, e) -> None:  # noqa: N802 - Qt override
        if e.key() == Qt.Key_Escape and not e.modifiers():
            self.clear()
            self.escaped.emit()
            return
        super().keyPressEvent(e)


class PriorDial(QSlider):
    """The common <-> specific slider. While it has the keyboard, the arrow keys move it rather than
    the playhead (the window's Left/Right shortcuts would take them); Esc hands the keys back."""

    escaped = Signal()

    def event(self, e) -> bool:
        if e.type() == QEvent.ShortcutOverride and (e.key() in _DIAL_KEYS or e.key() == Qt.Key_Escape) \
                and not e.modifiers() & ~Qt.KeypadModifier:
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e) -> None:  # noqa: N802 - Qt override
        if e.key() == Qt.Key_Escape and not e.modifiers():
            self.escaped.emit()
            return
        super().keyPressEvent(e)


def _fmt_weight(w: float) -> str:
    return f"{w:.2f}".rstrip("0").rstrip(".")


class SoundsPanel(QWidget):
    """Layout and what it shows; ``controllers.sounds`` connects it to the engine and the audition, and
    ``controllers.bindings`` its switches, list length and volume to the saved settings."""

    filters_changed = Signal(str, str)  # text, category ('' = all)
    back_to_frame = Signal()
    play_clicked = Signal()
    prior_weight_changed = Signal(object)  # float, or None: the model's default

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

        dial = QHBoxLayout()  # the common <-> specific dial: its own slim row, so long banners keep their room
        dial.setSpacing(4)
        dial.setContentsMargins(2, 0, 0, 0)
        self._prior_default: float | None = None  # None: no model loaded yet, or a model without a prior
        self._prior_loaded = False
        self._prior_value: float | None = None  # the project's weight; None = the model's default
        self.prior_specific = QLabel("Specific", self)
        self.prior_specific.setObjectName("dim")
        dial.addWidget(self.prior_specific)
        self.prior_dial = PriorDial(Qt.Horizontal, self)
        self.prior_dial.setObjectName("priorDial")
        self.prior_dial.setRange(0, PRIOR_STEPS)
        self.prior_dial.setSingleStep(1)
        self.prior_dial.setPageStep(4)
        self.prior_dial.setTickPosition(QSlider.NoTicks)
        self.prior_dial.setFixedWidth(150)
        self.prior_dial.setFocusPolicy(Qt.StrongFocus)
        self.prior_dial.setAccessibleName("Specific to common dial")
        self.prior_dial.setAccessibleDescription("Weight of the sound prior in the ranking: 0 is the picture alone, "
                                                 "higher ranks sounds that are common in footage higher")
        dial.addWidget(self.prior_dial)
        self.prior_common = QLabel("Common", self)
        self.prior_common.setObjectName("dim")
        dial.addWidget(self.prior_common)
        self.prior_value = QLabel("", self)
        self.prior_value.setObjectName("dim")
        self.prior_value.setMinimumWidth(self.prior_value.fontMetrics().horizontalAdvance("3.75") + 4)
        dial.addWidget(self.prior_value)
        self.prior_reset = QToolButton(self)
        self.prior_reset.setText("\u21ba")
        self.prior_reset.setObjectName("priorReset")
        self.prior_reset.setAccessibleName("Reset the dial to the model's default")
        self.prior_reset.clicked.connect(self.reset_prior_weight)
        dial.addWidget(self.prior_reset)
        dial.addStretch(1)
        self._prior_timer = QTimer(self)
        self._prior_timer.setSingleShot(True)
        self._prior_timer.setInterval(PRIOR_DEBOUNCE_MS)
        self._prior_timer.timeout.connect(self._emit_prior)
        self.prior_dial.valueChanged.connect(self._on_prior_moved)
        lay.addLayout(dial)
        self._show_prior()

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
        filt.addWidget(self.mode)
        self.top_k = QSpinBox(self)
        self.top_k.setRange(5, 200)
        self.top_k.setValue(25)
        self.top_k.setPrefix("top ")
        self.top_k.setObjectName("compact")
        self.top_k.setMinimumWidth(72)
        self.top_k.setToolTip("How many sounds to list (type, or use the mouse wheel / arrow keys)")
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
        audition.addWidget(self.whole)
        self.auto = QToolButton(self)
        self.auto.setText("Auto")
        self.auto.setCheckable(True)
        self.auto.setToolTip("Audition automatically when the selection changes")
        audition.addWidget(self.auto)
        audition.addStretch(1)
        self.speaker = QLabel(self)
        self.speaker.setPixmap(icon("speaker").pixmap(16, 16))
        audition.addWidget(self.speaker)
        self.volume = QSlider(Qt.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setFixedWidth(90)
        self.volume.setToolTip("Audition and playback volume")
        audition.addWidget(self.volume)
        lay.addLayout(audition)
        self.waveform = WaveformView(self)
        self.waveform.setFixedHeight(72)
        lay.addWidget(self.waveform)

    # -- the common <-> specific dial -------------------------------------------------------------
    def set_prior_default(self, default: float | None) -> None:
        """The loaded model's weight of the sound prior; ``None``: the model has no prior (the dial is off)."""
        self._prior_default = None if default is None else float(default)
        self._prior_loaded = True
        self._show_prior()

    def set_prior_weight(self, weight: float | None) -> None:
        """Show the project's weight (``None`` = the model's default) without emitting anything."""
        self._prior_timer.stop()
        self._prior_value = None if weight is None else float(weight)
        self._show_prior()

    @property
    def prior_weight(self) -> float | None:
        """The weight the dial stands for (``None`` = the model's default)."""
        return self._prior_value

    def reset_prior_weight(self) -> None:
        """Back to the model's default (chosen on validation maps)."""
        self._prior_timer.stop()
        if self._prior_value is not None:
            self._prior_value = None
            self._show_prior()
            self.prior_weight_changed.emit(None)

    def _on_prior_moved(self, step: int) -> None:
        self._prior_value = step * PRIOR_STEP
        self._show_prior(move=False)
        self._prior_timer.start()

    def _emit_prior(self) -> None:
        self.prior_weight_changed.emit(self._prior_value)

    def _show_prior(self, move: bool = True) -> None:
        on = self._prior_default is not None
        shown = self._prior_value if self._prior_value is not None else (self._prior_default or 0.0)
        if move:
            self.prior_dial.blockSignals(True)
            self.prior_dial.setValue(min(PRIOR_STEPS, round(shown / PRIOR_STEP)))
            self.prior_dial.blockSignals(False)
        for w in (self.prior_dial, self.prior_specific, self.prior_common, self.prior_value):
            w.setEnabled(on)
        self.prior_reset.setEnabled(on and self._prior_value is not None)
        if not on:
            tip = NO_PRIOR_TIP if self._prior_loaded else "The dial works once the model is loaded"
            self.prior_value.setText("")
            self.prior_reset.setToolTip(tip)
        else:
            default = _fmt_weight(self._prior_default)
            self.prior_value.setText(_fmt_weight(shown))
            state = "the model's default" if self._prior_value is None else f"the model's default is {default}"
            tip = f"{PRIOR_TIP}\n\nNow {_fmt_weight(shown)} ({state})."
            self.prior_reset.setToolTip(f"Back to the model's default, {default} (chosen on validation maps)")
        for w in (self.prior_dial, self.prior_specific, self.prior_common, self.prior_value):
            w.setToolTip(tip)

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

    def show_list(self, r, fps: float) -> None:
        """A finished ranking: the list (the selected sound stays selected) and a banner saying what it is."""
        keep = self.view.current_candidate()
        self.model.set_candidates(r.candidates)
        if r.source == "similar":
            self.set_banner(f"More like \u201c{r.query}\u201d \u00b7 {len(r.candidates)} sounds \u00b7 {r.elapsed_ms:.0f} ms", True)
        else:
            where = "cached" if r.source == "cache" else "live"
            learned = f" \u00b7 learning from {r.learned} choice{'s' * (r.learned != 1)}" if r.learned else ""
            self.set_banner(f"Sounds for {seconds_to_timecode(r.second, fps)} \u00b7 {where}{learned} \u00b7 {r.elapsed_ms:.0f} ms")
        if keep is not None:
            for row, c in enumerate(r.candidates):
                if c.path == keep.path:
                    self.view.setCurrentIndex(self.model.index(row))
                    break

    def set_banner(self, text: str, similar: bool = False) -> None:
        self.banner.setText(text)
        self.back_button.setVisible(similar)

    def set_audio_available(self, available: bool, reason: str) -> None:
        self.speaker.setPixmap(icon("speaker" if available else "speaker-off").pixmap(16, 16))
        self.speaker.setToolTip("" if available else reason)
