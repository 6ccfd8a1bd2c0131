"""The main window: layout, menus and wiring. The logic lives in ``controllers`` and ``widgets``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.api import Candidate
from engine.data.media import VIDEO_EXTENSIONS, VideoInfo
from engine.version import __version__
from foley_app.actions import build_actions
from foley_app.audio import Player
from foley_app.core.audio_cache import default_cache
from foley_app.core.commands import SetVideo
from foley_app.controllers.audition import AuditionController, LoadedSound, segment_of
from foley_app.controllers.engine import EngineController, EngineInfo, Recommendation
from foley_app.controllers.library import LibraryController
from foley_app.controllers.playback import PlaybackController
from foley_app.controllers.project import ProjectController
from foley_app.controllers.timeline import TimelineController
from foley_app.dialogs import show_about, show_shortcuts
from foley_app.minis import MiniWaveforms
from foley_app.resources import app_icon
from foley_app.settings import Settings
from foley_app.startup import LaunchPlan
from foley_app.core.timecode import seconds_to_timecode
from foley_app.widgets.candidate_model import Role
from foley_app.widgets.filmstrip import Filmstrip
from foley_app.widgets.library_panel import LibraryPanel
from foley_app.widgets.sounds_panel import SoundsPanel
from foley_app.widgets.timeline_view import TimelineView
from foley_app.widgets.transport import TransportBar
from foley_app.widgets.video_view import VideoView
from foley_app.workers import run_in_pool

log = logging.getLogger(__name__)

EARLY_COMMIT_SEGMENTS = 128  # first-run indexing commits this often so the list can appear early


class MainWindow(QMainWindow):
    """Video + filmstrip + transport in the centre; Sounds, Library and Timeline as docks."""

    def __init__(self, settings: Settings, cache_dir: Path, log_file: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.log_file = log_file
        self.plan: LaunchPlan | None = None
        self._early_at = 0.0  # next fraction of a first indexing run at which to try the partial index
        self.setWindowTitle("Foley Assistant")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        # -- engine-side objects
        self.player = Player(device=settings.audio_device, parent=self)
        self.player.set_volume(settings.volume)
        self.engine = EngineController(cache_dir, self)
        self.engine.k = settings.top_k
        self.library = LibraryController(self)
        self.playback = PlaybackController(self.player, self)
        self.audition = AuditionController(self.player, self)
        self.audition.whole_file = settings.play_whole_file
        self.undo_stack = QUndoStack(self)
        from foley_app.controllers.video import VideoController

        self.video = VideoController(self)

        # -- widgets
        self.video_view = VideoView()
        self.filmstrip = Filmstrip()
        self.transport = TransportBar()
        centre = QWidget()
        col = QVBoxLayout(centre)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addWidget(self.video_view, 1)
        col.addWidget(self.filmstrip)
        col.addWidget(self.transport)
        self.setCentralWidget(centre)
        self.sounds = SoundsPanel()
        self.library_panel = LibraryPanel()
        self.timeline_view = TimelineView()
        self.timeline = TimelineController(self.timeline_view, self.undo_stack, self)
        self.project = ProjectController(self, self.timeline, settings, self)
        self.minis = MiniWaveforms(self.sounds.model, self)
        self.docks = {
            "sounds": self._dock("Sounds", self.sounds, Qt.RightDockWidgetArea),
            "library": self._dock("Library", self.library_panel, Qt.RightDockWidgetArea),
            "timeline": self._dock("Timeline", self.timeline_view, Qt.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["sounds"], self.docks["library"])
        self.docks["sounds"].raise_()
        self.resizeDocks([self.docks["sounds"]], [560], Qt.Horizontal)
        self.resizeDocks([self.docks["timeline"]], [300], Qt.Vertical)

        self.actions_ = build_actions(self, self._handlers())
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._apply_settings_to_widgets()
        self._default_state = self.saveState()
        geometry, state = settings.layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1560, 960)
        if state is not None:
            self.restoreState(state)
        self._update_title()

    # ------------------------------------------------------------------------------------------
    # construction
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _handlers(self) -> dict:
        p, pj = self.playback, self.project
        return {
            "new": lambda: pj.new(self.video.path), "open_video": self.open_video_dialog,
            "open_project": pj.open_dialog, "save": pj.save, "save_as": pj.save_as,
            "export_wav": lambda: pj.export_dialog("wav"), "export_video": lambda: pj.export_dialog("video"),
            "export_otio": lambda: pj.export_dialog("otio"), "export_csv": lambda: pj.export_dialog("csv"),
            "export_stems": lambda: pj.export_dialog("stems"),
            "mix_normalize": lambda on: setattr(pj, "mix_mode", "normalize" if on else "limit"),
            "quit": self.close, "undo": self.undo_stack.undo, "redo": self.undo_stack.redo,
            "delete_clip": self._delete_selected_clip, "add_track": self.timeline.add_track,
            "place": self.place_selected_at_playhead, "play": self._on_space,
            "shuttle_back": lambda: p.shuttle(-1), "shuttle_stop": lambda: p.shuttle(0),
            "shuttle_fwd": lambda: p.shuttle(1), "frame_back": lambda: p.step_frames(-1),
            "frame_fwd": lambda: p.step_frames(1), "second_back": lambda: p.step_seconds(-1),
            "second_fwd": lambda: p.step_seconds(1), "go_start": lambda: p.seek(0.0),
            "context": self.audition_in_context, "audition": lambda: self.audition.audition(self.sounds.view.current_candidate()),
            "more_like": lambda: self._more_like(self.sounds.view.current_candidate()),
            "back_to_frame": self.engine.back_to_frame, "find": self._focus_search,
            "not_this": lambda: self.not_this(self.sounds.view.current_candidate()),
            "search_recording": self.show_record_dialog, "learn": self._set_learning,
            "forget_choices": self.forget_choices,
            "whole_file": self._set_whole_file, "auto_audition": self._set_auto_audition,
            "segment_mode": self._set_segment_mode, "attention": self._toggle_attention,
            "zoom_in": lambda: self.timeline_view.zoom(1.5), "zoom_out": lambda: self.timeline_view.zoom(1 / 1.5),
            "zoom_fit": self.timeline_view.zoom_to_fit, "reset_layout": lambda: self.restoreState(self._default_state),
            "add_folder": self.library_panel._on_add, "reindex": self.start_indexing,
            "choose_model": self.choose_model, "shortcuts": lambda: show_shortcuts(self, self.actions_),
            "open_log": self._open_log, "preferences": self.show_preferences, "about": lambda: show_about(self, self.log_file),
        }

    def _build_menus(self) -> None:
        a = self.actions_
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for key in ("new", "open_video", "open_project"):
            file_menu.addAction(a[key])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._fill_recent(self.settings.recent_projects())
        file_menu.addSeparator()
        file_menu.addAction(a["save"])
        file_menu.addAction(a["save_as"])
        export = file_menu.addMenu("&Export")
        for key in ("export_wav", "export_stems", "export_video", "export_otio", "export_csv"):
            export.addAction(a[key])
        export.addSeparator()
        export.addAction(a["mix_normalize"])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        groups = {
            "&Edit": ("undo", "redo", None, "delete_clip", "add_track", "place", None, "preferences"),
            "&Playback": ("play", "shuttle_back", "shuttle_stop", "shuttle_fwd", None, "frame_back", "frame_fwd",
                          "second_back", "second_fwd", "go_start", None, "context"),
            "&Sounds": ("audition", "more_like", "back_to_frame", "not_this", "find", "search_recording", None, "whole_file",
                        "auto_audition", "segment_mode", None, "learn", "forget_choices"),
            "&View": ("attention", None, "zoom_in", "zoom_out", "zoom_fit", None, "reset_layout"),
            "&Library": ("add_folder", "reindex", None, "choose_model"),
            "&Help": ("shortcuts", "open_log", None, "about"),
        }
        for title, keys in groups.items():
            menu = bar.addMenu(title)
            for key in keys:
                menu.addSeparator() if key is None else menu.addAction(a[key])
            if title == "&View":
                menu.addSeparator()
                for dock in self.docks.values():
                    menu.addAction(dock.toggleViewAction())

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar-main")
        tb.setMovable(False)
        a = self.actions_
        for key in ("open_video", "open_project", "save", None, "undo", "redo", None, "context", "attention", None,
                    "add_track", "zoom_out", "zoom_in", None, "export_wav"):
            tb.addSeparator() if key is None else tb.addAction(a[key])
        self.addToolBar(Qt.TopToolBarArea, tb)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_cache = QLabel("")
        self.status_library = QLabel("library: \u2014")
        self.status_model = QLabel("model: \u2014")
        self.status_device = QLabel("")
        self.status_audio = QLabel("")
        for w in (self.status_cache, self.status_library, self.status_model, self.status_device, self.status_audio):
            sb.addPermanentWidget(w)
        self._on_audio_availability(self.player.available, self.player.reason)

    def _connect(self) -> None:
        v, e, p, s = self.video, self.engine, self.playback, self.sounds
        v.opened.connect(self._on_video_opened)
        v.open_failed.connect(self._on_video_failed)
        v.frame_ready.connect(lambda t, image: self.video_view.set_image(image))
        self.video_view.resized.connect(self._on_video_view_resized)
        s.search.escaped.connect(self.video_view.setFocus)  # Esc in the filter: keys drive playback again
        s.prior_dial.escaped.connect(self.video_view.setFocus)
        s.prior_weight_changed.connect(self._set_prior_weight)
        v.thumbnail_ready.connect(self.filmstrip.set_thumbnail)
        self.transport.seek_requested.connect(p.seek)
        self.transport.step_requested.connect(p.step_frames)
        self.transport.play_toggled.connect(p.toggle)
        self.transport.context_requested.connect(self.audition_in_context)
        self.filmstrip.seek_requested.connect(p.seek)
        self.timeline_view.canvas.seek_requested.connect(p.seek)
        p.position_changed.connect(self._on_position)
        p.playing_changed.connect(self._on_playing_changed)
        p.status.connect(self._status)
        p.set_mix_source(lambda: (self.timeline.doc.revision, self.timeline.doc.copy()))
        e.loading.connect(self._status)
        e.ready.connect(self._on_engine_ready)
        e.load_failed.connect(self._on_engine_failed)
        e.recommendations_ready.connect(self._on_recommendations)
        e.recommendation_failed.connect(lambda msg: self._status(f"ranking failed: {msg}"))
        e.video_pass_progress.connect(self._on_video_pass)
        e.attention_ready.connect(self._on_attention)
        e.categories_ready.connect(s.set_categories)
        s.filters_changed.connect(self._on_filters)
        s.top_k_changed.connect(self._on_top_k)
        s.segment_mode_changed.connect(lambda on: self.actions_["segment_mode"].setChecked(on))
        s.back_to_frame.connect(e.back_to_frame)
        s.play_clicked.connect(self._on_play_clicked)
        s.whole_file_changed.connect(lambda on: self.actions_["whole_file"].setChecked(on))
        s.auto_audition_changed.connect(lambda on: self.actions_["auto_audition"].setChecked(on))
        s.volume_changed.connect(self._on_volume)
        s.view.audition_requested.connect(self.audition.audition)
        s.view.more_like_this.connect(self._more_like)
        s.view.not_this.connect(self.not_this)
        s.view.sound_dropped.connect(self.search_by_sound)
        self.timeline.sound_placed.connect(self._on_sound_placed)
        self.timeline.changed.connect(self._sync_feedback)
        s.view.reveal_requested.connect(lambda c: QGuiApplication.clipboard().setText(str(c.path)))
        s.view.selectionModel().currentChanged.connect(self._on_selection)
        s.waveform.seek_requested.connect(self.audition.play_from)
        self.audition.loaded.connect(self._on_sound_loaded)
        self.audition.failed.connect(self._warn_status)
        self.audition.status.connect(self._status)
        self.player.position_changed.connect(self._on_player_position)
        self.player.stopped.connect(lambda: self.sounds.waveform.set_playhead(None))
        self.player.availability_changed.connect(self._on_audio_availability)
        self.timeline.changed.connect(self._update_title)
        self.timeline.error.connect(self._warn_status)
        self.undo_stack.canUndoChanged.connect(self.actions_["undo"].setEnabled)
        self.undo_stack.canRedoChanged.connect(self.actions_["redo"].setEnabled)
        self.undo_stack.undoTextChanged.connect(lambda t: self.actions_["undo"].setText(f"&Undo {t}".strip()))
        self.undo_stack.redoTextChanged.connect(lambda t: self.actions_["redo"].setText(f"&Redo {t}".strip()))
        self.actions_["undo"].setEnabled(False)
        self.actions_["redo"].setEnabled(False)
        self.project.document_loaded.connect(self._on_document_loaded)
        self.project.saved.connect(lambda _: self._update_title())
        self.project.recent_changed.connect(self._fill_recent)
        self.project.status.connect(self._status)
        self.library_panel.folders_changed.connect(self._on_folders_changed)
        self.library_panel.index_requested.connect(self.start_indexing)
        self.library_panel.cancel_requested.connect(self.library.cancel)
        self.library.started.connect(lambda: self.library_panel.set_indexing(True))
        self.library.progress.connect(self.library_panel.set_progress)
        self.library.progress.connect(self._on_index_progress)
        self.library.finished.connect(self._on_indexed)
        self.library.cancelled.connect(self._on_index_cancelled)
        self.library.failed.connect(self._on_index_failed)

    def _apply_settings_to_widgets(self) -> None:
        st, a = self.settings, self.actions_
        self.sounds.top_k.setValue(st.top_k)
        self.sounds.volume.setValue(int(st.volume * 100))
        a["whole_file"].setChecked(st.play_whole_file)
        a["auto_audition"].setChecked(st.auto_audition)
        a["segment_mode"].setChecked(st.per_segment)
        self.sounds.whole.setChecked(st.play_whole_file)
        self.sounds.auto.setChecked(st.auto_audition)
        self.sounds.mode.setChecked(st.per_segment)
        self.engine.filters = {"per_segment": True} if st.per_segment else {}
        self._sync_feedback()  # the learning switch shows the document's
        self._sync_prior()

    # ------------------------------------------------------------------------------------------
    # start-up
    def start(self, plan: LaunchPlan) -> None:
        """Carry out a launch plan: open the video/project, then load (or first index) the library."""
        self.plan = plan
        self.library.roots = list(plan.library_roots)
        self.library.db_dir = plan.db_dir
        self.library_panel.set_folders(plan.library_roots)
        if plan.project is not None:
            self.project.open(plan.project, ask=False)
        elif not self.project.offer_untitled_recovery() and plan.video is not None:
            self.open_video(plan.video)
        if plan.problems:
            self._first_run_message(plan.problems)
        if plan.model is None or plan.db_dir is None:
            self.sounds.set_banner("No recommendations: " + ("choose a model (Library \u25b8 Choose Model)"
                                   if plan.model is None else "add a folder of sounds in the Library panel"))
            return
        if plan.needs_indexing:
            self.sounds.set_banner("Indexing the sound library\u2026 recommendations follow")
            self._early_at = 0.1  # first run: show a list from the part indexed so far, see _on_index_progress
            self.library.prebuilt = plan.prebuilt_index
            self.start_indexing(commit_segments=EARLY_COMMIT_SEGMENTS)
        else:
            self.engine.load(plan.model, plan.db_dir, self.settings.device)

    def _first_run_message(self, problems: list[str]) -> None:
        text = "\n\n".join(problems)
        log.warning("launch problems: %s", text)
        self.sounds.set_banner(problems[-1])
        QTimer.singleShot(0, lambda: QMessageBox.information(self, "Foley Assistant \u2014 setup", text))

    # ------------------------------------------------------------------------------------------
    # video
    def open_video_dialog(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(self, "Open video", str(self._media_dir()), f"Videos ({exts})")
        if path:
            self.open_video(Path(path))

    def open_video(self, path: Path) -> None:
        self._status(f"opening {Path(path).name}\u2026")
        if self.video.info is None:  # nothing on screen yet: say what is coming instead of a black picture
            self.video_view.set_message(f"Opening {Path(path).name}\u2026")
        self.video.open(Path(path))

    def _on_video_opened(self, info: VideoInfo) -> None:
        if self.timeline.doc.video != info.path:
            if self.timeline.doc.clip_count() == 0 and self.timeline.doc.video is None:
                SetVideo(info.path).do(self.timeline.doc)
                self.timeline.doc.dirty = False
            else:
                self.timeline.apply(SetVideo(info.path))
        self.playback.set_video(info.duration, info.fps)
        self.transport.set_video(info.duration, info.fps)
        self.timeline_view.canvas.video_duration = info.duration
        self.timeline_view.canvas.fps = info.fps if info.fps > 0 else 25.0
        self.timeline_view.refresh()
        self.filmstrip.clear(int(info.duration), info.width / max(1, info.height))
        self.video_view.set_overlay(None)
        self.engine.set_video(info.path)
        self.engine.request(0.0)
        self._status(f"{info.path.name}: {info.width}\u00d7{info.height}, {info.fps:.3g} fps, "
                     f"{seconds_to_timecode(info.duration, info.fps if info.fps >= 1 else 25.0)}")
        self._update_title()
        QTimer.singleShot(0, self.timeline_view.zoom_to_fit)

    def _on_video_failed(self, path: str, message: str) -> None:
        log.warning("cannot open video %s: %s", path, message)
        self._status(f"cannot open {Path(path).name}")
        QMessageBox.warning(self, "Cannot open video", message)

    def _on_video_view_resized(self, width: int, height: int) -> None:
        self.video.decoder.set_target_size(width, height)
        self.video.request_frame(self.playback.position)

    def _on_position(self, t: float) -> None:
        self.transport.set_position(t)
        self.filmstrip.set_position(t)
        self.timeline_view.canvas.set_playhead(t, follow=self.playback.playing)
        self.video.request_frame(t)
        self.engine.request(t)
        if self.actions_["attention"].isChecked() and not self.playback.playing:
            self._attention_timer().start()

    def _on_playing_changed(self, playing: bool, rate: float) -> None:
        self.transport.set_playing(playing, rate)

    # ------------------------------------------------------------------------------------------
    # engine & recommendations
    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.status_library.setText(f"library: {info.n_files:,} files \u00b7 {info.n_segments:,} segments")
        self.status_library.setToolTip(str(info.db_dir))
        self.status_model.setText(f"model: {info.model_path.name} ({info.model_id[:8]})")
        self.status_model.setToolTip(str(info.model_path))
        self.status_device.setText(info.device.upper())
        self.library_panel.set_stats(
            f"{info.n_files:,} files \u00b7 {info.n_segments:,} segments",
            f"{info.hours * 60:.1f} minutes of sound in {info.categories} categories"
            + (f", {info.skipped} unreadable files skipped" if info.skipped else "")
            + f"\nIndex: {info.db_dir}\nModel: {info.model_path} ({info.model_id})"
            + ("\nThis is the bundled demo library; add your own folders with the + button." if self.plan and self.plan.demo else ""))
        self.sounds.set_prior_default(info.default_prior_weight)
        self._status(f"model and library loaded in {info.load_s:.1f} s")
        if info.n_files == 0:
            self.sounds.set_banner("The library is empty: add a folder of sounds in the Library panel")

    def _on_engine_failed(self, message: str) -> None:
        self.sounds.set_banner("Recommendations unavailable (see the message)")
        self._status("engine failed to load")
        QMessageBox.warning(self, "Cannot load the model or library", message)

    def _on_recommendations(self, r: Recommendation) -> None:
        model = self.sounds.model
        keep = self.sounds.view.current_candidate()
        model.set_candidates(r.candidates)
        if r.source == "similar":
            self.sounds.set_banner(f"More like \u201c{r.query}\u201d \u00b7 {len(r.candidates)} sounds \u00b7 {r.elapsed_ms:.0f} ms", True)
        else:
            fps = self.transport.fps
            where = "cached" if r.source == "cache" else "live"
            learned = f" \u00b7 learning from {r.learned} choice{'s' * (r.learned != 1)}" if r.learned else ""
            self.sounds.set_banner(f"Sounds for {seconds_to_timecode(r.second, fps)} \u00b7 {where}{learned} \u00b7 {r.elapsed_ms:.0f} ms")
            self.filmstrip.set_marker(r.second)
            self.transport.scrubber.set_marker(r.second)
        if keep is not None:
            for row, c in enumerate(r.candidates):
                if c.path == keep.path:
                    self.sounds.view.setCurrentIndex(model.index(row))
                    break
        self.minis.request(r.candidates)

    def _on_video_pass(self, done: int, total: int) -> None:
        self.transport.scrubber.set_cached(done)
        self.status_cache.setText("" if done >= total else f"analysing video {done}/{total} s")

    def _on_filters(self, text: str, category: str) -> None:
        self.engine.set_filters(text=text or None, include_categories=[category] if category else None,
                                per_segment=self.settings.per_segment or None)

    def _on_top_k(self, k: int) -> None:
        self.settings.top_k = k
        self.engine.set_k(k)

    def _set_segment_mode(self, on: bool) -> None:
        self.settings.per_segment = on
        self.sounds.mode.setChecked(on)
        self.sounds._emit_filters()

    def _more_like(self, c: Candidate | None) -> None:
        if c is not None:
            self.engine.more_like_this(c)

    # -- learning from choices and searching by a recording
    def _sync_feedback(self) -> None:
        """Hand the project's choices that count now to the ranking (it re-ranks only when they changed)."""
        doc = self.timeline.doc
        self.engine.set_feedback(doc.active_feedback(), doc.feedback_enabled)
        a = self.actions_["learn"]
        if a.isChecked() != doc.feedback_enabled:
            a.blockSignals(True)
            a.setChecked(doc.feedback_enabled)
            a.blockSignals(False)
        self.actions_["forget_choices"].setEnabled(bool(doc.feedback))

    def _sync_prior(self) -> None:
        """The project's common <-> specific weight on the dial and in the ranking."""
        w = self.timeline.doc.prior_weight
        self.sounds.set_prior_weight(w)
        self.engine.set_prior_weight(w)

    def _set_prior_weight(self, weight: float | None) -> None:
        """The dial moved (or was reset): a ranking setting like the learning switch, saved with the
        project and marking it modified, not an undoable edit."""
        self.timeline.doc.set_prior_weight(weight)
        self.engine.set_prior_weight(weight)
        self._update_title()
        shown = "the model's default" if weight is None else ("the picture alone" if weight == 0 else f"{weight:g}")
        self._status(f"weight of common sounds: {shown}")

    def _record_choice(self, kind: str, time_s: float, path: Path, offset: float, clip_id: str = "") -> bool:
        from foley_app.core.document import DocumentError, FeedbackChoice

        doc = self.timeline.doc
        if not doc.feedback_enabled or doc.video is None:
            return False
        try:
            doc.add_feedback(FeedbackChoice(kind, max(0.0, float(time_s)), Path(path), max(0.0, float(offset)), clip_id))
        except DocumentError as exc:
            log.info("choice not recorded: %s", exc)
            return False
        self._sync_feedback()
        self._update_title()
        return True

    def _on_sound_placed(self, clip_id: str, drop_time: float, payload: dict) -> None:
        """Placing a sound at a moment says "this fits this picture"."""
        self._record_choice("place", drop_time, Path(payload["path"]), float(payload.get("start_s", 0.0) or 0.0), clip_id)

    def not_this(self, c: Candidate | None) -> None:
        """ "Not this": the sound leaves this picture's list, and sounds like it fall for similar pictures."""
        if c is None or self.engine.last is None or self.engine.last.source == "similar":
            self._status("select a sound in the list for a picture to say \u201cnot this\u201d")
            return
        if not self.timeline.doc.feedback_enabled:
            self._status("learning from choices is off (Sounds \u25b8 Learn from Choices)")
            return
        if self._record_choice("reject", float(self.engine.last.second), c.path, c.start_s):
            self._status(f"\u201c{c.name}\u201d is not offered for this picture any more")

    def _set_learning(self, on: bool) -> None:
        self.timeline.doc.set_feedback_enabled(on)
        self._sync_feedback()
        self._update_title()
        self._status("learning from your choices" if on else "ranking by the picture alone (choices are kept)")

    def forget_choices(self) -> None:
        doc = self.timeline.doc
        if not doc.feedback:
            return
        n = len(doc.feedback)
        if QMessageBox.question(self, "Forget learned choices",
                                f"Forget the {n} placed and rejected sounds this project has learned from? "
                                "The clips on the timeline stay.") not in (QMessageBox.Yes, QMessageBox.Ok):
            return
        doc.clear_feedback()
        self._sync_feedback()
        self._update_title()
        self._status(f"forgot {n} choices")

    def search_by_sound(self, path: Path) -> None:
        """List the library sounds nearest to any sound file (a recording, a dropped file)."""
        if not self.engine.is_ready:
            self._status("the model is still loading; try again in a moment")
            return
        self.docks["sounds"].raise_()
        self.engine.search_by_sound(Path(path))

    def show_record_dialog(self) -> None:
        from foley_app.recorder import RecordDialog, Recorder

        if getattr(self, "recorder", None) is None:
            self.recorder = Recorder(self.engine.cache_dir / "recordings", parent=self)
        else:
            self.recorder.available, self.recorder.reason = self.recorder.check()
        dlg = RecordDialog(self.recorder, self._media_dir(), self)
        dlg.query_ready.connect(self.search_by_sound)
        self.record_dialog = dlg
        dlg.open()

    def _focus_search(self) -> None:
        self.docks["sounds"].raise_()
        self.sounds.search.setFocus()
        self.sounds.search.selectAll()

    # -- attention overlay
    def _attention_timer(self) -> QTimer:
        if not hasattr(self, "_att_timer"):
            self._att_timer = QTimer(self)
            self._att_timer.setSingleShot(True)
            self._att_timer.setInterval(120)
            self._att_timer.timeout.connect(lambda: self.engine.request_attention(self.playback.position))
        return self._att_timer

    def _toggle_attention(self, on: bool) -> None:
        if on:
            if not self.engine.is_ready:
                self._status("the attention overlay needs the model; it is still loading")
            self.engine.request_attention(self.playback.position)
        else:
            self.video_view.set_overlay(None)
            self.video_view.set_caption("")

    def _on_attention(self, t: float, heat: np.ndarray | None) -> None:
        if not self.actions_["attention"].isChecked():
            return
        if heat is None:
            self.video_view.set_overlay(None)
            self.video_view.set_caption("this model has no attention maps")
        else:
            self.video_view.set_overlay(heat)
            self.video_view.set_caption("where the model looked")

    # ------------------------------------------------------------------------------------------
    # audition
    def _on_selection(self, current, previous) -> None:  # noqa: ANN001
        c = current.data(Role.Candidate) if current.isValid() else None
        if c is not None:
            self.audition.audition(c, play=self.settings.auto_audition)

    def _on_play_clicked(self) -> None:
        if self.player.playing:
            self.player.stop()
        else:
            self.audition.audition(self.sounds.view.current_candidate())

    def _on_space(self) -> None:
        """Space auditions in the sound list, and plays/pauses the video everywhere else."""
        if self.sounds.view.hasFocus():
            if self.player.playing and not self.playback.playing:
                self.player.stop()
            else:
                self.audition.audition(self.sounds.view.current_candidate())
        else:
            self.playback.toggle()

    def _on_sound_loaded(self, s: LoadedSound) -> None:
        a, b = segment_of(s, False)
        self.sounds.waveform.set_sound(s.peaks, s.duration, (a, b), f"{s.candidate.name}  \u00b7  {s.candidate.category}")

    def _on_player_position(self, t: float) -> None:
        if not self.playback.playing:
            self.sounds.waveform.set_playhead(t)

    def _on_volume(self, v: float) -> None:
        self.player.set_volume(v)
        self.settings.volume = v

    def _set_whole_file(self, on: bool) -> None:
        self.audition.whole_file = on
        self.settings.play_whole_file = on
        self.sounds.whole.setChecked(on)

    def _set_auto_audition(self, on: bool) -> None:
        self.settings.auto_audition = on
        self.sounds.auto.setChecked(on)

    def _on_audio_availability(self, available: bool, reason: str) -> None:
        self.status_audio.setText("audio: on" if available else "\u26a0 audio output unavailable")
        self.status_audio.setToolTip(reason or "sound plays through the default output device")
        self.status_audio.setStyleSheet("" if available else "color: #f0a23b;")
        self.sounds.set_audio_available(available, reason)

    def audition_in_context(self) -> None:
        """Play the video from the playhead with the selected sound's matched segment starting there."""
        c = self.sounds.view.current_candidate()
        if c is None:
            self._status("select a sound to audition it in context")
            return
        at = self.playback.position

        def ready(s: LoadedSound) -> None:
            a, _ = segment_of(s, self.audition.whole_file)
            sr = default_cache().sample_rate
            self.playback.play(1.0, extra=(s.wave[int(a * sr):], at))

        from foley_app.controllers.audition import load_sound

        run_in_pool(load_sound, ready, lambda exc: self._warn_status(f"cannot play {c.name}: {exc}"), c, owner=self)

    # ------------------------------------------------------------------------------------------
    # timeline
    def place_selected_at_playhead(self) -> None:
        c = self.sounds.view.current_candidate()
        if c is None or not self.timeline.doc.tracks:
            return
        payload = {"path": str(c.path), "name": c.name, "category": c.category, "start_s": c.start_s,
                   "duration_s": c.duration_s}
        self.timeline.drop_candidate(0, self.playback.position, payload)

    def _delete_selected_clip(self) -> None:
        clip_id = self.timeline_view.canvas.selected
        if clip_id:
            from foley_app.core.commands import RemoveClip

            self.timeline.apply(RemoveClip(clip_id))

    def _on_document_loaded(self, doc) -> None:  # noqa: ANN001
        if doc.video is not None and doc.video != self.video.path and doc.video.exists():
            self.video.open(doc.video)
        self._sync_feedback()
        self._sync_prior()
        self._update_title()

    def _update_title(self) -> None:
        doc = self.timeline.doc
        name = doc.path.name if doc.path else "Untitled"
        video = f" \u2014 {doc.video.name}" if doc.video else ""
        self.setWindowTitle(f"{name}{video} \u2014 Foley Assistant")
        if doc.dirty:
            self.setWindowTitle(f"\u2022 {self.windowTitle()}")

    def _fill_recent(self, paths: list[Path]) -> None:
        self.recent_menu.clear()
        for p in paths:
            self.recent_menu.addAction(p.name, lambda p=p: self.project.open(p)).setToolTip(str(p))
        self.recent_menu.setEnabled(bool(paths))

    # ------------------------------------------------------------------------------------------
    # library
    def start_indexing(self, commit_segments: int = 2048) -> None:
        model = self.plan.model if self.plan else None
        if model is None:
            self._warn_status("choose a model before indexing (Library \u25b8 Choose Model)")
            return
        if not self.library.roots:
            self._warn_status("add a folder of sounds first")
            return
        if self.library.db_dir is None:
            from foley_app.controllers.library import default_db_dir

            self.library.db_dir = default_db_dir()
        if self.library.index(model, self.settings.device, commit_segments):
            self._status("indexing the sound library\u2026")

    def _on_folders_changed(self, folders: list[Path]) -> None:
        self.library.roots = list(folders)
        if self.plan is not None and not self.plan.demo:
            self.settings.library_roots = folders
        elif self.plan is not None and folders != self.plan.library_roots:
            # the user made the library their own: leave the demo index alone from now on
            from foley_app.controllers.library import default_db_dir

            self.plan.demo = False
            self.library.db_dir = default_db_dir()
            self.settings.library_roots = folders
            self.settings.library_db = self.library.db_dir
        self.start_indexing()

    def _on_index_progress(self, done: int, total: int) -> None:
        if not self.engine.is_ready:
            self.sounds.set_banner(f"Indexing the sound library: {done:,} / {total:,} files … recommendations follow")

    def _on_indexed(self, report) -> None:  # noqa: ANN001
        self._early_at = 0.0
        self.library_panel.set_indexing(False)
        self._status(f"library indexed: {report.files:,} files, {report.segments:,} segments")
        if self.plan is not None and self.plan.model is not None and self.library.db_dir is not None:
            self.engine.load(self.plan.model, self.library.db_dir, self.settings.device)

    def _on_index_cancelled(self) -> None:
        self.library_panel.set_indexing(False)
        self._status("indexing cancelled; what was indexed is kept")
        if self.plan is not None and self.plan.model is not None and self.library.db_dir is not None:
            self.engine.load(self.plan.model, self.library.db_dir, self.settings.device)

    def _on_index_failed(self, message: str) -> None:
        self.library_panel.set_indexing(False)
        QMessageBox.warning(self, "Indexing failed", message)

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose model", str(self._media_dir()), "Model files (*.pt)")
        if not path:
            return
        self.settings.model_path = Path(path)
        if self.plan is not None:
            self.plan.model = Path(path)
        if self.library.db_dir is not None:
            self.engine.load(Path(path), self.library.db_dir, self.settings.device)

    def show_preferences(self) -> None:
        from foley_app.audio import output_devices
        from foley_app.dialogs import PreferencesDialog

        before = (self.settings.model_path, self.settings.device)
        dlg = PreferencesDialog(self, self.settings, output_devices())
        if dlg.exec() != PreferencesDialog.Accepted:
            return
        dlg.store()
        self.apply_preferences(before)

    def apply_preferences(self, before: tuple) -> None:
        """Use changed settings now: audio device, list length and mode, and a reload for model/device."""
        st = self.settings
        self.player.set_device(st.audio_device)
        self.sounds.top_k.setValue(st.top_k)
        self.actions_["segment_mode"].setChecked(st.per_segment)
        if (st.model_path, st.device) != before and self.plan is not None:
            if st.model_path is not None:
                self.plan.model = st.model_path
            if self.plan.model is not None and self.library.db_dir is not None:
                self.engine.load(self.plan.model, self.library.db_dir, st.device)

    # ------------------------------------------------------------------------------------------
    # misc
    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _warn_status(self, text: str) -> None:
        log.warning("%s", text)
        self.statusBar().showMessage(f"\u26a0 {text}", 10000)

    def _media_dir(self) -> Path:
        return self.video.path.parent if self.video.path else Path.home()

    def _open_log(self) -> None:
        if self.log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file.parent)))
            self._status(f"log file: {self.log_file}")

    def dragEnterEvent(self, event) -> None:  # noqa: ANN001, N802
        if any(Path(u.toLocalFile()).suffix.lower() in VIDEO_EXTENSIONS | {".json"} for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: ANN001, N802
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                self.open_video(path)
                event.acceptProposedAction()
                return
            if path.suffix.lower() == ".json":
                self.project.open(path)
                event.acceptProposedAction()
                return

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        if not self.project.maybe_save():
            event.ignore()
            return
        from foley_app.core import project_io

        project_io.discard_autosave(self.timeline.doc)  # a clean exit leaves nothing to recover
        self.settings.save_layout(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop playback, workers and threads (also used by tests)."""
        self.playback.stop()
        self.player.stop()
        self.library.cancel()
        self.engine.shutdown()
        self.video.close()
        self.project.autosave.stop()

