"""Keyboard focus never stays trapped in the filter box: Esc or a click gives the keys back to playback."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def _ready(qtbot, make_window, demo_plan):
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.video.info is not None, timeout=20_000)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5_000)
    return w


def test_ctrl_f_type_esc_then_space_toggles_playback(qtbot, make_window, demo_plan) -> None:
    w = _ready(qtbot, make_window, demo_plan)
    qtbot.keyClick(w, Qt.Key_F, Qt.ControlModifier)
    qtbot.waitUntil(lambda: w.sounds.search.hasFocus(), timeout=2_000)
    qtbot.keyClicks(w.sounds.search, "jkl creak")  # shortcut keys type into the filter while it has focus
    assert w.sounds.search.text() == "jkl creak" and not w.playback.playing
    qtbot.keyClick(w.sounds.search, Qt.Key_Escape)
    assert w.sounds.search.text() == ""
    qtbot.waitUntil(lambda: w.video_view.hasFocus(), timeout=2_000)
    assert QApplication.focusWidget() is w.video_view
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Space)
    qtbot.waitUntil(lambda: w.playback.playing, timeout=2_000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Space)
    qtbot.waitUntil(lambda: not w.playback.playing, timeout=2_000)
    assert w.sounds.search.text() == ""  # the spaces went to playback, not into the filter


def test_clicks_on_the_picture_or_the_list_take_the_keyboard(qtbot, make_window, demo_plan) -> None:
    w = _ready(qtbot, make_window, demo_plan)
    qtbot.keyClick(w, Qt.Key_F, Qt.ControlModifier)
    qtbot.waitUntil(lambda: w.sounds.search.hasFocus(), timeout=2_000)
    qtbot.mouseClick(w.video_view, Qt.LeftButton)
    assert QApplication.focusWidget() is w.video_view
    qtbot.keyClick(w.video_view, Qt.Key_Space)
    qtbot.waitUntil(lambda: w.playback.playing, timeout=2_000)
    qtbot.keyClick(w.video_view, Qt.Key_Space)
    qtbot.waitUntil(lambda: not w.playback.playing, timeout=2_000)
    w.sounds.search.setFocus()
    qtbot.waitUntil(lambda: w.sounds.search.hasFocus(), timeout=2_000)
    qtbot.mouseClick(w.sounds.view.viewport(), Qt.LeftButton, pos=w.sounds.view.viewport().rect().center())
    assert QApplication.focusWidget() is w.sounds.view


def test_start_shows_what_is_coming_not_a_black_picture(qtbot, make_window, demo_plan) -> None:
    from PySide6.QtWidgets import QSplashScreen

    from foley_app.main import show_splash

    splash = show_splash(QApplication.instance())
    assert isinstance(splash, QSplashScreen) and splash.isVisible()
    w = make_window(demo_plan)
    splash.finish(w)
    assert w.video_view.message == f"Opening {demo_plan.video.name}\u2026" or w.video.info is not None
    qtbot.waitUntil(lambda: w.video.info is not None, timeout=20_000)
    qtbot.waitUntil(lambda: not splash.isVisible(), timeout=5_000)
