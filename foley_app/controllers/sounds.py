"""The Sounds panel's side of the app: the lists the engine ranks, the filters, "more like this" and
searching by a recording or a dropped file, and auditioning the selected sound (alone or in context)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from engine.api import Candidate
from foley_app.controllers.audition import AuditionController, LoadedSound, segment_of
from foley_app.minis import MiniWaveforms
from foley_app.settings import Settings
from foley_app.widgets.candidate_model import Role

log = logging.getLogger(__name__)


class SoundsController(QObject):
    """Connects the Sounds panel with the engine and the audition player."""

    status = Signal(str)
    wanted = Signal()  # the panel should come to the front (a search started)

    def __init__(self, panel, engine, audition: AuditionController, playback, settings: Settings,
                 parent: QWidget) -> None:
        """``panel``: the ``SoundsPanel``; ``engine``: the ``EngineController``; ``playback``: the
        ``PlaybackController`` (in-context audition)."""
        super().__init__(parent)
        self.panel, self.engine, self.audition, self.playback, self.settings = panel, engine, audition, playback, settings
        self.player = audition.player
        self.minis = MiniWaveforms(panel.model, self)
        self.recorder = None
        self.record_dialog = None
        view = panel.view
        engine.recommendations_ready.connect(self._on_list)
        engine.categories_ready.connect(panel.set_categories)
        panel.filters_changed.connect(self._on_filters)
        panel.back_to_frame.connect(engine.back_to_frame)
        panel.play_clicked.connect(lambda: audition.play_or_stop(self.current()))
        panel.waveform.seek_requested.connect(audition.play_from)
        view.audition_requested.connect(audition.audition)
        view.more_like_this.connect(engine.more_like_this)
        view.sound_dropped.connect(self.search_by_sound)
        view.reveal_requested.connect(lambda c: QGuiApplication.clipboard().setText(str(c.path)))
        view.selectionModel().currentChanged.connect(self._on_selection)
        audition.loaded.connect(self._on_sound_loaded)
        self.player.position_changed.connect(lambda t: None if playback.playing else panel.waveform.set_playhead(t))
        self.player.stopped.connect(lambda: panel.waveform.set_playhead(None))
        self.player.availability_changed.connect(panel.set_audio_available)

    def current(self) -> Candidate | None:
        """The selected sound."""
        return self.panel.view.current_candidate()

    def _on_list(self, r) -> None:
        self.panel.show_list(r, self.playback.fps)
        self.minis.request(r.candidates)

    def _on_filters(self, text: str, category: str) -> None:
        self.engine.set_filters(text=text or None, include_categories=[category] if category else None,
                                per_segment=self.settings.per_segment or None)

    def _on_selection(self, current, previous) -> None:
        c = current.data(Role.Candidate) if current.isValid() else None
        if c is not None:
            self.audition.audition(c, play=self.settings.auto_audition)

    def _on_sound_loaded(self, s: LoadedSound) -> None:
        a, b = segment_of(s, False)
        self.panel.waveform.set_sound(s.peaks, s.duration, (a, b), f"{s.candidate.name}  \u00b7  {s.candidate.category}")

    def space(self) -> None:
        """Space auditions in the sound list, and plays/pauses the video everywhere else."""
        if self.panel.view.hasFocus():
            if self.player.playing and not self.playback.playing:
                self.player.stop()
            else:
                self.audition.audition(self.current())
        else:
            self.playback.toggle()

    def in_context(self) -> None:
        """Play the video from the playhead with the selected sound's matched segment starting there."""
        c = self.current()
        if c is None:
            self.status.emit("select a sound to audition it in context")
            return
        self.audition.in_context(c, self.playback.position, self.playback)

    def focus_search(self) -> None:
        """Into the filter field, its text selected."""
        self.wanted.emit()
        self.panel.search.setFocus()
        self.panel.search.selectAll()

    def search_by_sound(self, path: Path) -> None:
        """List the library sounds nearest to any sound file (a recording, a dropped file)."""
        if not self.engine.is_ready:
            self.status.emit("the model is still loading; try again in a moment")
            return
        self.wanted.emit()
        self.engine.search_by_sound(Path(path))

    def record(self, folder: Path) -> None:
        """Open the Search by Recording dialog (``folder``: where "choose a file" starts)."""
        from foley_app.recorder import RecordDialog, Recorder

        if self.recorder is None:
            self.recorder = Recorder(self.engine.cache_dir / "recordings", parent=self)
        else:
            self.recorder.available, self.recorder.reason = self.recorder.check()
        dlg = RecordDialog(self.recorder, folder, self.parent())
        dlg.query_ready.connect(self.search_by_sound)
        self.record_dialog = dlg
        dlg.open()
