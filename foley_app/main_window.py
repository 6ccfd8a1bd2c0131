"""The main window: layout, menus and wiring. The logic lives in ``controllers`` and ``widgets``."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from engine.api import VIDEO_EXTENSIONS, VideoInfo
from foley_app import APP_NAME
from foley_app.actions import build_actions, build_menus, build_toolbar
from foley_app.audio import Player
from foley_app.controllers.attention import AttentionOverlay
from foley_app.controllers.audition import AuditionController
from foley_app.controllers.bindings import SettingBindings
from foley_app.controllers.choices import ChoicesController
from foley_app.controllers.engine import EngineController, EngineInfo, Recommendation
from foley_app.controllers.library import LibraryController
from foley_app.controllers.lifecycle import LibraryLifecycle
from foley_app.controllers.playback import PlaybackController
from foley_app.controllers.project import ProjectController
from foley_app.controllers.sounds import SoundsController
from foley_app.controllers.timeline import TimelineController
from foley_app.controllers.video import VideoController
from foley_app.core.timecode import seconds_to_timecode, usable_fps
from foley_app.dialogs import show_about, show_shortcuts
from foley_app.resources import app_icon
from foley_app.settings import Settings
from foley_app.startup import LaunchPlan
from foley_app.widgets.filmstrip import Filmstrip
from foley_app.widgets.library_panel import LibraryPanel
from foley_app.widgets.sounds_panel import SoundsPanel
from foley_app.widgets.status_bar import StatusBar
from foley_app.widgets.timeline_view import TimelineView
from foley_app.widgets.transport import TransportBar
from foley_app.widgets.video_view import VideoView

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Video + filmstrip + transport in the centre; Sounds, Library and Timeline as docks."""

    def __init__(self, settings: Settings, cache_dir: Path, log_file: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.log_file = log_file
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        # -- engine-side objects
        self.player = Player(device=settings.audio_device, parent=self)
        self.engine = EngineController(cache_dir, self)
        self.library = LibraryController(self)
        self.lifecycle = LibraryLifecycle(settings, self.library, self.engine, self)
        self.playback = PlaybackController(self.player, self)
        self.audition = AuditionController(self.player, self)
        self.undo_stack = QUndoStack(self)
        self.video = VideoController(self)

        # -- widgets
        self.video_view = VideoView()
        self.filmstrip = Filmstrip()
        self.transport = TransportBar()
        centre = QWidget()
        col = QVBoxLayout(centre)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        for w, stretch in ((self.video_view, 1), (self.filmstrip, 0), (self.transport, 0)):
            col.addWidget(w, stretch)
        self.setCentralWidget(centre)
        self.sounds = SoundsPanel()
        self.library_panel = LibraryPanel()
        self.timeline_view = TimelineView()
        self.timeline = TimelineController(self.timeline_view, self.undo_stack, self)
        self.project = ProjectController(self, self.timeline, settings, self)
        self.docks = {
            "sounds": self._dock("Sounds", self.sounds, Qt.RightDockWidgetArea),
            "library": self._dock("Library", self.library_panel, Qt.RightDockWidgetArea),
            "timeline": self._dock("Timeline", self.timeline_view, Qt.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["sounds"], self.docks["library"])
        self.docks["sounds"].raise_()
        self.resizeDocks([self.docks["sounds"]], [560], Qt.Horizontal)
        self.resizeDocks([self.docks["timeline"]], [300], Qt.Vertical)

        self.suggestions = SoundsController(self.sounds, self.engine, self.audition, self.playback, settings, self)
        self.actions_ = a = build_actions(self, self._handlers())
        self.choices = ChoicesController(self.timeline, self.engine, self.sounds, a["learn"], a["forget_choices"], self)
        self.attention = AttentionOverlay(self.engine, self.playback, self.video_view, a["attention"], self)
        self.recent_menu = build_menus(self.menuBar(), a, [d.toggleViewAction() for d in self.docks.values()])
        self._fill_recent(settings.recent_projects())
        self.addToolBar(Qt.TopToolBarArea, build_toolbar(self, a))
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.status_library, self.status_model = self.status.library, self.status.model
        self.status.set_audio(self.player.available, self.player.reason)
        self.sounds.set_audio_available(self.player.available, self.player.reason)
        self._connect()
        self.prefs = self._bind_settings()
        self.prefs.load()
        self.choices.sync()  # the learning switch and the dial show the document's
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
        p, pj, sc = self.playback, self.project, self.suggestions
        current = sc.current
        return {
            "new": lambda: pj.new(self.video.path), "open_video": self.open_video_dialog,
            "open_project": pj.open_dialog, "save": pj.save, "save_as": pj.save_as,
            "export_wav": lambda: pj.export_dialog("wav"), "export_video": lambda: pj.export_dialog("video"),
            "export_otio": lambda: pj.export_dialog("otio"), "export_csv": lambda: pj.export_dialog("csv"),
            "export_stems": lambda: pj.export_dialog("stems"),
            "mix_normalize": lambda on: setattr(pj, "mix_mode", "normalize" if on else "limit"),
            "quit": self.close, "undo": self.undo_stack.undo, "redo": self.undo_stack.redo,
            "delete_clip": self.timeline.delete_selected, "add_track": self.timeline.add_track,
            "place": lambda: self.timeline.place(current(), p.position), "play": sc.space,
            "shuttle_back": lambda: p.shuttle(-1), "shuttle_stop": lambda: p.shuttle(0),
            "shuttle_fwd": lambda: p.shuttle(1), "frame_back": lambda: p.step_frames(-1),
            "frame_fwd": lambda: p.step_frames(1), "second_back": lambda: p.step_seconds(-1),
            "second_fwd": lambda: p.step_seconds(1), "go_start": lambda: p.seek(0.0),
            "context": sc.in_context, "audition": lambda: self.audition.audition(current()),
            "more_like": lambda: self.engine.more_like_this(current()), "back_to_frame": self.engine.back_to_frame,
            "find": sc.focus_search, "not_this": lambda: self.choices.not_this(current()),
            "search_recording": lambda: sc.record(self._media_dir()), "learn": lambda on: self.choices.set_learning(on),
            "forget_choices": lambda: self.choices.forget(), "attention": lambda on: self.attention.toggle(on),
            "zoom_in": lambda: self.timeline_view.zoom(1.5), "zoom_out": lambda: self.timeline_view.zoom(1 / 1.5),
            "zoom_fit": self.timeline_view.zoom_to_fit, "reset_layout": lambda: self.restoreState(self._default_state),
            "add_folder": self.library_panel._on_add, "reindex": self.start_indexing,
            "choose_model": self.choose_model, "shortcuts": lambda: show_shortcuts(self, self.actions_),
            "open_log": self._open_log, "preferences": self.show_preferences, "about": lambda: show_about(self, self.log_file),
        }

    def _bind_settings(self) -> SettingBindings:
        """Every saved preference, bound once to its controls and to what it does."""
        a, s, b = self.actions_, self.sounds, SettingBindings(self.settings)
        b.toggle("play_whole_file", (a["whole_file"], s.whole), lambda on: setattr(self.audition, "whole_file", on))
        b.toggle("auto_audition", (a["auto_audition"], s.auto))
        b.toggle("per_segment", (a["segment_mode"], s.mode), lambda on: s._emit_filters())
        b.number("top_k", s.top_k, self.engine.set_k)
        b.number("volume", s.volume, self.player.set_volume, scale=100)
        b.value("audio_device", self.player.set_device, reapply=True, in_effect=self.settings.audio_device)
        return b

    def _connect(self) -> None:
        v, e, p, s, lc, lib, panel = (self.video, self.engine, self.playback, self.sounds, self.lifecycle, self.library,
                                      self.library_panel)
        v.opened.connect(self._on_video_opened)
        v.open_failed.connect(self._on_video_failed)
        v.frame_ready.connect(lambda t, image: self.video_view.set_image(image))
        self.video_view.resized.connect(self._on_video_view_resized)
        s.search.escaped.connect(self.video_view.setFocus)  # Esc in the filter: keys drive playback again
        s.prior_dial.escaped.connect(self.video_view.setFocus)
        s.prior_weight_changed.connect(self.choices.set_prior_weight)
        v.thumbnail_ready.connect(self.filmstrip.set_thumbnail)
        self.transport.seek_requested.connect(p.seek)
        self.transport.step_requested.connect(p.step_frames)
        self.transport.play_toggled.connect(p.toggle)
        self.transport.context_requested.connect(self.suggestions.in_context)
        self.filmstrip.seek_requested.connect(p.seek)
        self.timeline_view.canvas.seek_requested.connect(p.seek)
        p.position_changed.connect(self._on_position)
        p.playing_changed.connect(self.transport.set_playing)
        p.status.connect(self.status.say)
        p.set_mix_source(lambda: (self.timeline.doc.revision, self.timeline.doc.copy()))
        e.loading.connect(self.status.say)
        e.ready.connect(self._on_engine_ready)
        e.load_failed.connect(self._on_engine_failed)
        e.recommendations_ready.connect(self._on_recommendations)
        e.recommendation_failed.connect(lambda msg: self.status.say(f"ranking failed: {msg}"))
        e.video_pass_progress.connect(self.transport.scrubber.set_cached)
        e.video_pass_progress.connect(self.status.set_video_pass)
        s.view.not_this.connect(self.choices.not_this)
        self.timeline.sound_placed.connect(self.choices.sound_placed)
        self.timeline.changed.connect(self.choices.sync_feedback)
        self.timeline.changed.connect(self._update_title)
        self.timeline.error.connect(self.status.warn)
        self.choices.modified.connect(self._update_title)
        self.suggestions.wanted.connect(self.docks["sounds"].raise_)
        for source in (self.choices, self.attention, self.audition, self.project, lc, self.suggestions):
            source.status.connect(self.status.say)
        self.audition.failed.connect(self.status.warn)
        self.player.availability_changed.connect(self.status.set_audio)
        for key, stack_signal, text in (("undo", self.undo_stack.canUndoChanged, self.undo_stack.undoTextChanged),
                                        ("redo", self.undo_stack.canRedoChanged, self.undo_stack.redoTextChanged)):
            act = self.actions_[key]
            stack_signal.connect(act.setEnabled)
            text.connect(lambda t, act=act, key=key: act.setText(f"&{key.title()} {t}".strip()))
            act.setEnabled(False)
        self.project.document_loaded.connect(self._on_document_loaded)
        self.project.saved.connect(lambda _: self._update_title())
        self.project.recent_changed.connect(self._fill_recent)
        lc.warning.connect(self.status.warn)
        lc.banner.connect(s.set_banner)
        panel.folders_changed.connect(lc.set_folders)
        panel.index_requested.connect(self.start_indexing)
        panel.cancel_requested.connect(lib.cancel)
        lib.started.connect(lambda: panel.set_indexing(True))
        lib.progress.connect(panel.set_progress)
        lib.progress.connect(lc.indexing_progress)
        for done in (lib.finished, lib.cancelled, lib.failed):
            done.connect(lambda *_: panel.set_indexing(False))
        lib.finished.connect(lc.indexed)
        lib.cancelled.connect(lc.indexing_cancelled)
        lib.failed.connect(lambda message: QMessageBox.warning(self, "Indexing failed", message))

    # ------------------------------------------------------------------------------------------
    # start-up and the library
    @property
    def plan(self) -> LaunchPlan | None:
        return self.lifecycle.plan

    def start(self, plan: LaunchPlan) -> None:
        """Carry out a launch plan: open the video/project, then load (or first index) the library."""
        self.library_panel.set_folders(plan.library_roots)
        if plan.project is not None:
            self.project.open(plan.project, ask=False)
        elif not self.project.offer_untitled_recovery() and plan.video is not None:
            self.open_video(plan.video)
        if plan.problems:
            text = "\n\n".join(plan.problems)
            log.warning("launch problems: %s", text)
            self.sounds.set_banner(plan.problems[-1])
            QTimer.singleShot(0, lambda: QMessageBox.information(self, f"{APP_NAME} \u2014 setup", text))
        self.lifecycle.start(plan)

    def start_indexing(self) -> None:
        self.lifecycle.index()

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose model", str(self._media_dir()), "Model files (*.pt)")
        if path:
            self.lifecycle.choose_model(Path(path))

    def show_preferences(self) -> None:
        from foley_app.audio import output_devices
        from foley_app.dialogs import PreferencesDialog

        model, device = self.settings.model_path, self.settings.device
        dlg = PreferencesDialog(self, self.settings, output_devices())
        if dlg.exec() == PreferencesDialog.Accepted:
            dlg.store()
            self.prefs.load()
            self.lifecycle.preferences_changed(model, device)

    # ------------------------------------------------------------------------------------------
    # video
    def open_video_dialog(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(self, "Open video", str(self._media_dir()), f"Videos ({exts})")
        if path:
            self.open_video(Path(path))

    def open_video(self, path: Path) -> None:
        self.status.say(f"opening {Path(path).name}\u2026")
        if self.video.info is None:  # nothing on screen yet: say what is coming instead of a black picture
            self.video_view.set_message(f"Opening {Path(path).name}\u2026")
        self.video.open(Path(path))

    def _on_video_opened(self, info: VideoInfo) -> None:
        fps = usable_fps(info.fps)
        self.timeline.set_video(info.path, info.duration, fps)
        self.playback.set_video(info.duration, fps)
        self.transport.set_video(info.duration, fps)
        self.filmstrip.clear(int(info.duration), info.width / max(1, info.height))
        self.video_view.set_overlay(None)
        self.engine.set_video(info.path)
        self.engine.request(0.0)
        self.status.say(f"{info.path.name}: {info.width}\u00d7{info.height}, {info.fps:.3g} fps, "
                     f"{seconds_to_timecode(info.duration, fps)}")
        self._update_title()

    def _on_video_failed(self, path: str, message: str) -> None:
        log.warning("cannot open video %s: %s", path, message)
        self.status.say(f"cannot open {Path(path).name}")
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
        self.attention.moved()

    # ------------------------------------------------------------------------------------------
    # engine
    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.status.set_engine(info)
        self.library_panel.show_engine(info, self.lifecycle.demo)
        self.sounds.set_prior_default(info.default_prior_weight)
        self.status.say(f"model and library loaded in {info.load_s:.1f} s")
        if info.n_files == 0:
            self.sounds.set_banner("The library is empty: add a folder of sounds in the Library panel")

    def _on_engine_failed(self, message: str) -> None:
        self.sounds.set_banner("Recommendations unavailable (see the message)")
        self.status.say("engine failed to load")
        QMessageBox.warning(self, "Cannot load the model or library", message)

    def _on_recommendations(self, r: Recommendation) -> None:
        if r.source != "similar":
            self.filmstrip.set_marker(r.second)
            self.transport.scrubber.set_marker(r.second)

    # ------------------------------------------------------------------------------------------
    # timeline and project
    def _on_document_loaded(self, doc) -> None:
        if doc.video is not None and doc.video != self.video.path and doc.video.exists():
            self.video.open(doc.video)
        self.choices.sync()
        self._update_title()

    def _update_title(self) -> None:
        doc = self.timeline.doc
        name = doc.path.name if doc.path else "Untitled"
        video = f" \u2014 {doc.video.name}" if doc.video else ""
        dirty = "\u2022 " if doc.dirty else ""
        self.setWindowTitle(f"{dirty}{name}{video} \u2014 {APP_NAME}")

    def _fill_recent(self, paths: list[Path]) -> None:
        self.recent_menu.clear()
        for p in paths:
            self.recent_menu.addAction(p.name, lambda p=p: self.project.open(p)).setToolTip(str(p))
        self.recent_menu.setEnabled(bool(paths))

    # ------------------------------------------------------------------------------------------
    # misc
    def _media_dir(self) -> Path:
        return self.video.path.parent if self.video.path else Path.home()

    def _open_log(self) -> None:
        if self.log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file.parent)))
            self.status.say(f"log file: {self.log_file}")

    @staticmethod
    def _dropped(event) -> Path | None:
        """The first dropped file the window opens: a video or a project."""
        paths = (Path(u.toLocalFile()) for u in event.mimeData().urls())
        return next((p for p in paths if p.suffix.lower() in VIDEO_EXTENSIONS | {".json"}), None)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        path = self._dropped(event)
        if path is not None:
            self.open_video(path) if path.suffix.lower() in VIDEO_EXTENSIONS else self.project.open(path)
            event.acceptProposedAction()

    def closeEvent(self, event) -> None:  # noqa: N802
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
