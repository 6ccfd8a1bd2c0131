"""The project's ranking settings: the designer's choices the list learns from ("place", "not this")
and the common <-> specific dial, kept in step between the document, the ranking and the controls.

Both are saved with the project and mark it modified; neither is an undoable edit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.api import Candidate

log = logging.getLogger(__name__)


class ChoicesController(QObject):
    """Learning from choices and the prior dial for the open project."""

    status = Signal(str)
    modified = Signal()  # the project changed (its title shows it)

    def __init__(self, timeline, engine, sounds, learn: QAction, forget: QAction, parent: QWidget) -> None:
        """``timeline``: the ``TimelineController`` (its ``doc``); ``engine``: the ``EngineController``;
        ``sounds``: the Sounds panel (its dial); ``learn``/``forget``: the Sounds menu's actions."""
        super().__init__(parent)
        self.timeline, self.engine, self.sounds = timeline, engine, sounds
        self.learn_action, self.forget_action = learn, forget

    def sync(self) -> None:
        """Show and use the open project's choices and dial (a project was opened or created)."""
        self.sync_feedback()
        self.sync_prior()

    def sync_feedback(self) -> None:
        """Hand the project's choices that count now to the ranking (it re-ranks only when they changed)."""
        doc = self.timeline.doc
        self.engine.set_feedback(doc.active_feedback(), doc.feedback_enabled)
        if self.learn_action.isChecked() != doc.feedback_enabled:
            self.learn_action.blockSignals(True)
            self.learn_action.setChecked(doc.feedback_enabled)
            self.learn_action.blockSignals(False)
        self.forget_action.setEnabled(bool(doc.feedback))

    def sync_prior(self) -> None:
        """The project's common <-> specific weight on the dial and in the ranking."""
        w = self.timeline.doc.prior_weight
        self.sounds.set_prior_weight(w)
        self.engine.set_prior_weight(w)

    def set_prior_weight(self, weight: float | None) -> None:
        """The dial moved (or was reset)."""
        self.timeline.doc.set_prior_weight(weight)
        self.engine.set_prior_weight(weight)
        self.modified.emit()
        shown = "the model's default" if weight is None else ("the picture alone" if weight == 0 else f"{weight:g}")
        self.status.emit(f"weight of common sounds: {shown}")

    def record(self, kind: str, time_s: float, path: Path, offset: float, clip_id: str = "") -> bool:
        """Remember a "place" or "reject" at ``time_s``; False when learning is off or it is not recorded."""
        from foley_app.core.document import DocumentError, FeedbackChoice

        doc = self.timeline.doc
        if not doc.feedback_enabled or doc.video is None:
            return False
        try:
            doc.add_feedback(FeedbackChoice(kind, max(0.0, float(time_s)), Path(path), max(0.0, float(offset)), clip_id))
        except DocumentError as exc:
            log.info("choice not recorded: %s", exc)
            return False
        self.sync_feedback()
        self.modified.emit()
        return True

    def sound_placed(self, clip_id: str, drop_time: float, payload: dict) -> None:
        """Placing a sound at a moment says "this fits this picture"."""
        self.record("place", drop_time, Path(payload["path"]), float(payload.get("start_s", 0.0) or 0.0), clip_id)

    def not_this(self, c: Candidate | None) -> None:
        """ "Not this": the sound leaves this picture's list, and sounds like it fall for similar pictures."""
        last = self.engine.last
        if c is None or last is None or last.source == "similar":
            self.status.emit("select a sound in the list for a picture to say \u201cnot this\u201d")
            return
        if not self.timeline.doc.feedback_enabled:
            self.status.emit("learning from choices is off (Sounds \u25b8 Learn from Choices)")
            return
        if self.record("reject", float(last.second), c.path, c.start_s):
            self.status.emit(f"\u201c{c.name}\u201d is not offered for this picture any more")

    def set_learning(self, on: bool) -> None:
        """The Learn from Choices switch (per project)."""
        self.timeline.doc.set_feedback_enabled(on)
        self.sync_feedback()
        self.modified.emit()
        self.status.emit("learning from your choices" if on else "ranking by the picture alone (choices are kept)")

    def forget(self) -> None:
        """Forget the project's choices after asking (the clips stay)."""
        doc = self.timeline.doc
        if not doc.feedback:
            return
        n = len(doc.feedback)
        if QMessageBox.question(self.parent(), "Forget learned choices",
                                f"Forget the {n} placed and rejected sounds this project has learned from? "
                                "The clips on the timeline stay.") not in (QMessageBox.Yes, QMessageBox.Ok):
            return
        doc.clear_feedback()
        self.sync_feedback()
        self.modified.emit()
        self.status.emit(f"forgot {n} choices")
