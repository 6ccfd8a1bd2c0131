"""The app's dark, dense look: one palette, one style sheet, shared colours for painted widgets."""

from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)


class C:
    """Colours used by the painted widgets (timeline, waveforms, score bars) and the style sheet."""

    bg = QColor("#1b1c1f")  # window background
    panel = QColor("#232529")  # docks, lists
    panel_alt = QColor("#282a2f")  # alternating rows
    raised = QColor("#2e3136")  # buttons, headers
    border = QColor("#3a3d44")
    text = QColor("#d7dae0")
    text_dim = QColor("#8c919b")
    accent = QColor("#f0a23b")  # playhead, markers, focus
    accent_wash = QColor(accent.red(), accent.green(), accent.blue(), 50)  # a drop target
    select = QColor("#2d5d8c")  # selection background
    wave = QColor("#53c3c9")  # waveforms
    wave_dim = QColor("#2f6d72")
    clip = QColor("#2f4f6b")
    clip_sel = QColor("#3f77a6")
    mute = QColor("#c9534a")
    solo = QColor("#d8b63a")
    ruler = QColor("#16171a")
    good = QColor("#6cc070")


def category_colour(name: str) -> QColor:
    """A stable, muted colour per category, so the same kind of sound looks the same everywhere."""
    h = 0
    for ch in name.lower():
        h = (h * 131 + ord(ch)) % 360
    return QColor.fromHsl(h, 90, 110)


_QSS = """
* {{ outline: 0; }}
QWidget {{ color: {text}; background: {bg}; font-size: 9pt; }}
QMainWindow::separator {{ background: {bg}; width: 3px; height: 3px; }}
QMainWindow::separator:hover {{ background: {accent}; }}
QDockWidget {{ titlebar-close-icon: url({icons}/dock-close.svg); titlebar-normal-icon: url({icons}/dock-float.svg); }}
QDockWidget::close-button, QDockWidget::float-button {{ border: 1px solid transparent; border-radius: 2px; padding: 0; }}
QDockWidget::close-button:hover, QDockWidget::float-button:hover {{ background: {border}; border-color: {dim}; }}
QDockWidget::title {{ background: {raised}; padding: 3px 6px; text-transform: uppercase; }}
QToolTip {{ background: {raised}; color: {text}; border: 1px solid {border}; padding: 3px; }}
QMenuBar {{ background: {bg}; }}
QMenuBar::item:selected {{ background: {raised}; }}
QMenu {{ background: {panel}; border: 1px solid {border}; }}
QMenu::item {{ padding: 4px 22px 4px 22px; }}
QMenu::item:selected {{ background: {select}; }}
QMenu::item:disabled {{ color: {dim}; }}
QMenu::separator {{ height: 1px; background: {border}; margin: 3px 6px; }}
QToolBar {{ background: {bg}; border: 0; spacing: 2px; padding: 2px; }}
QToolButton {{ background: transparent; border: 1px solid transparent; border-radius: 3px; padding: 3px; }}
QToolButton:hover {{ background: {raised}; border-color: {border}; }}
QToolButton:checked {{ background: {select}; border-color: {select}; }}
QToolButton:pressed {{ background: {border}; }}
QPushButton {{ background: {raised}; border: 1px solid {border}; border-radius: 3px; padding: 3px 10px; }}
QPushButton:hover {{ border-color: {accent}; }}
QPushButton:checked {{ background: {select}; }}
QPushButton:disabled {{ color: {dim}; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{
    background: {panel}; border: 1px solid {border}; border-radius: 3px; padding: 2px 5px;
    selection-background-color: {select};
}}
QSpinBox::up-button, QDoubleSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::down-button {{
    subcontrol-origin: border; width: 14px; background: {raised}; border-left: 1px solid {border};
}}
QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-position: top right; border-top-right-radius: 3px; }}
QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-position: bottom right; border-bottom-right-radius: 3px; }}
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover, QSpinBox::down-button:hover,
QDoubleSpinBox::down-button:hover {{ background: {border}; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url({icons}/arrow-up.svg); width: 8px; height: 8px; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url({icons}/arrow-down.svg); width: 8px; height: 8px; }}
QSpinBox#compact::up-button, QSpinBox#compact::down-button {{ width: 0; border: 0; }}
QLineEdit:focus, QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus {{ border-color: {accent}; }}
QComboBox QAbstractItemView {{ background: {panel}; selection-background-color: {select}; border: 1px solid {border}; }}
QListView, QTreeView, QTableView, QListWidget {{
    background: {panel}; alternate-background-color: {panel_alt}; border: 1px solid {border};
    selection-background-color: {select};
}}
QHeaderView::section {{ background: {raised}; border: 0; border-right: 1px solid {border}; padding: 3px; }}
QScrollBar:vertical {{ background: {bg}; width: 10px; margin: 0; }}
QScrollBar:horizontal {{ background: {bg}; height: 10px; margin: 0; }}
QScrollBar::handle {{ background: {border}; border-radius: 4px; min-height: 20px; min-width: 20px; }}
QScrollBar::handle:hover {{ background: {dim}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QSlider::groove:horizontal {{ height: 4px; background: {border}; border-radius: 2px; }}
QSlider::sub-page:horizontal {{ background: {wave_dim}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {text}; width: 10px; margin: -4px 0; border-radius: 5px; }}
QSlider::handle:horizontal:hover {{ background: {accent}; }}
QSlider::sub-page:horizontal:disabled {{ background: {border}; }}
QSlider::handle:horizontal:disabled {{ background: {dim}; }}
QSlider#priorDial {{ border: 1px solid transparent; border-radius: 3px; padding: 0 2px; }}
QSlider#priorDial:focus {{ border-color: {accent}; }}
QLabel#dim:disabled {{ color: {border}; }}
QToolButton#priorReset:disabled {{ color: {dim}; }}
QProgressBar {{ background: {panel}; border: 1px solid {border}; border-radius: 3px; text-align: center; height: 12px; }}
QProgressBar::chunk {{ background: {wave_dim}; border-radius: 2px; }}
QStatusBar {{ background: {ruler}; color: {dim}; }}
QStatusBar QLabel {{ background: transparent; color: {dim}; padding: 0 6px; }}
QSplitter::handle {{ background: {bg}; }}
QSplitter::handle:hover {{ background: {accent}; }}
QTabBar::tab {{ background: {raised}; padding: 4px 10px; border: 1px solid {border}; border-bottom: 0; }}
QTabBar::tab:selected {{ background: {panel}; color: {accent}; }}
QLabel#timecode {{ font-family: "DejaVu Sans Mono", monospace; font-size: 13pt; color: {accent};
    background: {ruler}; border: 1px solid {border}; border-radius: 3px; padding: 1px 6px; }}
QLabel#banner {{ background: {raised}; color: {accent}; padding: 3px 6px; border-radius: 3px; }}
QLabel#dim {{ color: {dim}; background: transparent; }}
"""


def style_sheet() -> str:
    """The Qt style sheet with the palette's colours filled in."""
    from foley_app.resources import resource_path

    icons = resource_path("icons", "arrow-up.svg").parent.as_posix()  # the dock buttons' and spin arrows' images
    return _QSS.format(
        icons=icons, text=C.text.name(), bg=C.bg.name(), panel=C.panel.name(), panel_alt=C.panel_alt.name(),
        raised=C.raised.name(), border=C.border.name(), accent=C.accent.name(), select=C.select.name(),
        dim=C.text_dim.name(), wave_dim=C.wave_dim.name(), ruler=C.ruler.name(),
    )


def apply_theme(app: QApplication) -> None:
    """Fusion style + dark palette + style sheet on the whole application."""
    app.setStyle("Fusion")
    pal = QPalette()
    for role, colour in (
        (QPalette.Window, C.bg), (QPalette.WindowText, C.text), (QPalette.Base, C.panel),
        (QPalette.AlternateBase, C.panel_alt), (QPalette.Text, C.text), (QPalette.Button, C.raised),
        (QPalette.ButtonText, C.text), (QPalette.Highlight, C.select), (QPalette.HighlightedText, C.text),
        (QPalette.ToolTipBase, C.raised), (QPalette.ToolTipText, C.text), (QPalette.PlaceholderText, C.text_dim),
    ):
        pal.setColor(role, colour)
    pal.setColor(QPalette.Disabled, QPalette.Text, C.text_dim)
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, C.text_dim)
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(9.0)
    app.setFont(font)
    app.setStyleSheet(style_sheet())
