"""The dark theme's small controls can be seen: the dock's close (✕) button and the spin boxes' arrows."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QSpinBox

from foley_app.theme import C, style_sheet


def brightest(image: QImage, x0: int, y0: int, x1: int, y1: int) -> int:
    """The highest HSL lightness (0-255) of the pixels in a rectangle."""
    best = 0
    for y in range(max(0, y0), min(image.height(), y1)):
        for x in range(max(0, x0), min(image.width(), x1)):
            best = max(best, QColor(image.pixel(x, y)).lightness())
    return best


def test_spin_box_arrows_stand_out_from_the_dark_button(qtbot) -> None:
    box = QSpinBox()
    box.setStyleSheet(style_sheet())
    box.setRange(0, 100)
    box.resize(90, 26)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    image = box.grab().toImage()
    w, h = image.width(), image.height()
    ratio = box.devicePixelRatioF()
    buttons = int(16 * ratio)
    up = brightest(image, w - buttons, 0, w, h // 2)
    down = brightest(image, w - buttons, h // 2, w, h)
    assert up >= C.text.lightness() - 40 and down >= C.text.lightness() - 40, (up, down, C.raised.lightness())


def test_dock_close_button_shows_a_light_cross(qtbot) -> None:
    win = QMainWindow()
    win.setStyleSheet(style_sheet())
    dock = QDockWidget("Sounds", win)
    dock.setFeatures(QDockWidget.DockWidgetClosable)
    dock.setWidget(QLabel("list"))
    win.addDockWidget(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.RightDockWidgetArea, dock)
    win.resize(400, 300)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    image = dock.grab().toImage()
    ratio = dock.devicePixelRatioF()
    title_h = int(24 * ratio)
    # the title text is on the left; the close button is the rightmost ~24 px of the title bar
    cross = brightest(image, image.width() - int(24 * ratio), 0, image.width(), title_h)
    assert cross >= C.text.lightness() - 40, cross


def test_attention_caption_sits_beside_the_picture_when_there_is_room(qtbot) -> None:
    from PySide6.QtGui import QImage as Image

    from foley_app.widgets.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.set_caption("where the model looked")
    frame = Image(160, 90, Image.Format_RGB888)
    frame.fill(QColor("#808080"))
    view.set_image(frame)
    for size in ((640, 480), (900, 300)):  # letterbox above/below; pillarbox left/right
        view.resize(*size)
        box, inside = view.caption_rect()
        assert not inside and not box.intersects(view.picture_rect()), (size, box, view.picture_rect())
        assert view.rect().toRectF().contains(box) if hasattr(view.rect(), "toRectF") else True
    view.resize(320, 180)  # the picture fills the view: over it, but on a dark backdrop in a corner
    box, inside = view.caption_rect()
    assert inside and box.width() < view.width() / 2 + 40
    view.show()
    qtbot.waitExposed(view)
    image = view.grab().toImage()
    ratio = view.devicePixelRatioF()
    backdrop = QColor(image.pixel(int((box.left() + 2) * ratio), int((box.top() + 2) * ratio)))
    assert backdrop.lightness() < 80  # the grey frame (lightness 128) is darkened under the text
