"""Every menu command with its shortcut and tooltip, in one table; Help lists shortcuts from it. The menu
bar and the toolbar are laid out from the tables ``MENUS`` and ``TOOLBAR``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QToolBar, QWidget

from foley_app.resources import icon

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionSpec:
    key: str
    menu: str
    text: str
    shortcut: str | QKeySequence.StandardKey | None = None
    tip: str = ""
    icon: str = ""
    checkable: bool = False


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("new", "File", "&New Project", QKeySequence.New, "Start an empty project", "new"),
    ActionSpec("open_video", "File", "Open &Video\u2026", "Ctrl+Shift+O", "Open a video (mp4, mov, mkv, avi, webm); you can also drop it on the window", "film"),
    ActionSpec("open_project", "File", "&Open Project\u2026", QKeySequence.Open, "Open a saved project", "folder-open"),
    ActionSpec("save", "File", "&Save", QKeySequence.Save, "Save the project", "save"),
    ActionSpec("save_as", "File", "Save &As\u2026", QKeySequence.SaveAs, "Save the project under a new name"),
    ActionSpec("export_wav", "Export", "Mix as &WAV\u2026", "Ctrl+E", "Render the timeline to a WAV file (limited to -1 dBFS)", "export"),
    ActionSpec("export_stems", "Export", "&Stems (a WAV per Track)\u2026", None, "One Broadcast WAV per track into a folder, before the limiter, lined up with the mix"),
    ActionSpec("export_video", "Export", "&Video with Sound\u2026", "Ctrl+Shift+E", "Write an mp4: the video's picture with the mix as its sound"),
    ActionSpec("export_otio", "Export", "&OpenTimelineIO\u2026", None, "An .otio timeline for a DAW or NLE"),
    ActionSpec("export_csv", "Export", "&Cue Sheet (CSV)\u2026", None, "A spreadsheet of every clip with timecodes"),
    ActionSpec("mix_normalize", "Export", "&Normalize Instead of Limiting", None, "Export by scaling the whole mix to -1 dBFS instead of limiting peaks", checkable=True),
    ActionSpec("preferences", "Edit", "Pre&ferences…", QKeySequence.Preferences, "Model file, device, list length, audio output"),
    ActionSpec("quit", "File", "&Quit", QKeySequence.Quit, "Close the app"),
    ActionSpec("undo", "Edit", "&Undo", QKeySequence.Undo, "Undo the last edit", "undo"),
    ActionSpec("redo", "Edit", "&Redo", QKeySequence.Redo, "Redo", "redo"),
    ActionSpec("delete_clip", "Edit", "&Delete Clip", "Delete", "Delete the selected clip", "delete"),
    ActionSpec("add_track", "Edit", "Add &Track", "Ctrl+T", "Add an audio track", "track-add"),
    ActionSpec("place", "Edit", "&Place Sound at Playhead", "P", "Put the selected sound on the first track, its onset at the playhead"),
    ActionSpec("play", "Playback", "&Play / Pause", "Space", "Play the video with the timeline mix; in the sound list, audition the sound", "play"),
    ActionSpec("shuttle_back", "Playback", "Shuttle &Backward", "J", "Play backwards; press again to go faster"),
    ActionSpec("shuttle_stop", "Playback", "Shuttle &Stop", "K", "Stop"),
    ActionSpec("shuttle_fwd", "Playback", "Shuttle &Forward", "L", "Play forwards; press again to go faster (2x, 4x, 8x)"),
    ActionSpec("frame_back", "Playback", "Previous Frame", "Left", "One frame back", "step-back"),
    ActionSpec("frame_fwd", "Playback", "Next Frame", "Right", "One frame forward", "step-forward"),
    ActionSpec("second_back", "Playback", "Back One Second", "Shift+Left", "One second back"),
    ActionSpec("second_fwd", "Playback", "Forward One Second", "Shift+Right", "One second forward"),
    ActionSpec("go_start", "Playback", "Go to Start", "Home", "Playhead to the start"),
    ActionSpec("context", "Playback", "Audition in &Context", "C", "Play the video from the playhead with the selected sound starting there", "play-context"),
    ActionSpec("audition", "Sounds", "&Audition Selected", "Return", "Play the selected sound (matched segment or whole file)", "play"),
    ActionSpec("more_like", "Sounds", "&More Like This", "M", "List sounds similar to the selected one", "similar"),
    ActionSpec("back_to_frame", "Sounds", "&Back to Frame", "Escape", "List sounds for the frame at the playhead again"),
    ActionSpec("not_this", "Sounds", "&Not This", "X", "Say the selected sound does not fit this picture: it leaves this list, and sounds like it fall for similar pictures"),
    ActionSpec("search_recording", "Sounds", "Search by &Recording…", "Ctrl+R", "Record a few seconds from the microphone (or choose a sound file) and list the library sounds nearest to it", "similar"),
    ActionSpec("learn", "Sounds", "&Learn from Choices", None, "Let the sounds you place and reject shape the ranking in this project", checkable=True),
    ActionSpec("forget_choices", "Sounds", "&Forget Learned Choices", None, "Forget this project's placed and rejected sounds (the clips stay)"),
    ActionSpec("find", "Sounds", "&Filter\u2026", QKeySequence.Find, "Type to filter the list", "search"),
    ActionSpec("whole_file", "Sounds", "Play &Whole File", "W", "Audition whole files instead of the matched segment", checkable=True),
    ActionSpec("auto_audition", "Sounds", "A&uto-Audition", None, "Audition as soon as the selection changes", checkable=True),
    ActionSpec("segment_mode", "Sounds", "List &Segments", None, "One row per matching 1-s segment instead of per file", checkable=True),
    ActionSpec("attention", "View", "&Attention Overlay", "A", "Show where the model looked in the frame", "eye", True),
    ActionSpec("zoom_in", "View", "Zoom &In", "Ctrl+=", "Zoom the timeline in", "zoom-in"),
    ActionSpec("zoom_out", "View", "Zoom &Out", "Ctrl+-", "Zoom the timeline out", "zoom-out"),
    ActionSpec("zoom_fit", "View", "Zoom to &Fit", "Ctrl+0", "Show the whole timeline"),
    ActionSpec("reset_layout", "View", "&Reset Layout", None, "Put every panel back where it started"),
    ActionSpec("add_folder", "Library", "&Add Folder\u2026", None, "Add a folder of sounds and index it", "folder-add"),
    ActionSpec("reindex", "Library", "&Index Now", None, "Index new and changed sounds", "waveform"),
    ActionSpec("choose_model", "Library", "Choose &Model\u2026", None, "Use another model file (.pt) for recommendations"),
    ActionSpec("shortcuts", "Help", "&Keyboard Shortcuts", "F1", "Every shortcut on one page", "keyboard"),
    ActionSpec("open_log", "Help", "Show &Log File", None, "Where errors are written (attach it to a bug report)"),
    ActionSpec("about", "Help", "&About Foley Assistant", None, ""),
)


def build_actions(parent: QWidget, handlers: dict[str, Callable[..., None]]) -> dict[str, QAction]:
    """Create a QAction per spec and connect ``handlers[key]`` (triggered/toggled)."""
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        a = QAction(spec.text, parent)
        if spec.icon:
            a.setIcon(icon(spec.icon))
        if spec.shortcut is not None:
            a.setShortcut(QKeySequence(spec.shortcut))
        tip = spec.tip
        if spec.shortcut is not None:
            tip = f"{tip} ({a.shortcut().toString(QKeySequence.NativeText)})" if tip else a.shortcut().toString()
        a.setToolTip(tip)
        a.setStatusTip(spec.tip)
        a.setCheckable(spec.checkable)
        handler = handlers.get(spec.key)
        if handler is not None:
            (a.toggled if spec.checkable else a.triggered).connect(handler)
        actions[spec.key] = a
    return actions


def shortcut_table(actions: dict[str, QAction]) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every action with a shortcut, in menu order."""
    rows = []
    for spec in SPECS:
        keys = actions[spec.key].shortcut().toString(QKeySequence.NativeText)
        if keys:
            rows.append((spec.menu, spec.text.replace("&", "").rstrip("\u2026"), keys))
    return rows


RECENT, EXPORT = "@recent", "@export"  # the File menu's submenus
EXPORT_MENU: tuple[str | None, ...] = ("export_wav", "export_stems", "export_video", "export_otio", "export_csv", None,
                                       "mix_normalize")
MENUS: dict[str, tuple[str | None, ...]] = {  # None: a separator
    "&File": ("new", "open_video", "open_project", RECENT, None, "save", "save_as", EXPORT, None, "quit"),
    "&Edit": ("undo", "redo", None, "delete_clip", "add_track", "place", None, "preferences"),
    "&Playback": ("play", "shuttle_back", "shuttle_stop", "shuttle_fwd", None, "frame_back", "frame_fwd",
                  "second_back", "second_fwd", "go_start", None, "context"),
    "&Sounds": ("audition", "more_like", "back_to_frame", "not_this", "find", "search_recording", None, "whole_file",
                "auto_audition", "segment_mode", None, "learn", "forget_choices"),
    "&View": ("attention", None, "zoom_in", "zoom_out", "zoom_fit", None, "reset_layout"),
    "&Library": ("add_folder", "reindex", None, "choose_model"),
    "&Help": ("shortcuts", "open_log", None, "about"),
}
TOOLBAR: tuple[str | None, ...] = ("open_video", "open_project", "save", None, "undo", "redo", None, "context",
                                   "attention", None, "add_track", "zoom_out", "zoom_in", None, "export_wav")


def _fill(menu: QMenu | QToolBar, keys: tuple[str | None, ...], actions: dict[str, QAction]) -> None:
    for key in keys:
        menu.addSeparator() if key is None else menu.addAction(actions[key])


def build_menus(bar: QMenuBar, actions: dict[str, QAction], panels: list[QAction]) -> QMenu:
    """Lay the menu bar out from ``MENUS`` (``panels``: the docks' show/hide actions, under View);
    returns the empty Open Recent submenu."""
    recent = None
    for title, keys in MENUS.items():
        menu = bar.addMenu(title)
        for key in keys:
            if key == RECENT:
                recent = menu.addMenu("Open &Recent")
            elif key == EXPORT:
                _fill(menu.addMenu("&Export"), EXPORT_MENU, actions)
            else:
                _fill(menu, (key,), actions)
        if title == "&View":
            menu.addSeparator()
            for a in panels:
                menu.addAction(a)
    assert recent is not None
    return recent


def build_toolbar(parent: QWidget, actions: dict[str, QAction]) -> QToolBar:
    """The main toolbar, laid out from ``TOOLBAR``."""
    tb = QToolBar("Main", parent)
    tb.setObjectName("toolbar-main")
    tb.setMovable(False)
    _fill(tb, TOOLBAR, actions)
    return tb
