"""``foley-app [VIDEO] [--library DIR] [--model M] [--project P] [--version] [--smoke-test [S]]``: the desktop app's entry point."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import traceback
from pathlib import Path

from engine.api import SETTINGS_ORG, log_dir
from foley_app import APP_NAME

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from engine.api import __version__

    p = argparse.ArgumentParser(prog="foley-app", description="Sound suggestions for video, from your own library.")
    p.add_argument("video", nargs="?", type=Path, help="video to open (mp4, mov, mkv, avi, webm)")
    p.add_argument("--library", type=Path, help="a folder of sounds (indexed in the background) or a sound index folder")
    p.add_argument("--model", type=Path, help="model file (.pt); default: the last one used, else the bundled model")
    p.add_argument("--project", type=Path, help="project file to open")
    p.add_argument("--version", action="version", version=f"foley-app {__version__}")
    p.add_argument("--smoke-test", type=float, nargs="?", const=600.0, metavar="SECONDS",
                   help="exit 0 once the first recommendations are listed, 1 on an error or after SECONDS (default 600)")
    return p.parse_args(argv)


def setup_logging(folder: Path | None = None) -> Path | None:
    """Log INFO+ to a rotating file the user can attach to a bug report (and WARNING+ to stderr)."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(fmt)
    root.addHandler(console)
    try:
        folder = folder or log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "foley-app.log"
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(fmt)
        root.addHandler(handler)
        return path
    except OSError as exc:
        log.warning("no log file: %s", exc)
        return None


def install_excepthook(log_file: Path | None, interactive: bool = True, exit_=os._exit) -> None:
    """Unexpected exceptions are logged and shown (with where the log is) instead of killing the app.

    Not ``interactive`` (``--smoke-test``, or no real screen): nobody can close a message box, so a
    modal one would hang the process. The error goes to stderr and the process exits with 1.
    """
    showing = [False]

    def hook(exc_type, exc, tb) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        logging.getLogger("foley_app.crash").error("unexpected error:\n%s", text)
        if not interactive:
            sys.stderr.write(f"foley-app: unexpected error: {exc_type.__name__}: {exc} (details: {log_file})\n")
            sys.stderr.flush()
            for handler in logging.getLogger().handlers:
                handler.flush()
            exit_(1)
            return
        if showing[0]:
            return
        from PySide6.QtWidgets import QApplication, QMessageBox

        if QApplication.instance() is None:
            return
        showing[0] = True
        try:
            QMessageBox.critical(None, "Unexpected error",
                                 f"{exc_type.__name__}: {exc}\n\nYour work is autosaved. Details are in the log:\n{log_file}")
        finally:
            showing[0] = False

    sys.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns the exit code."""
    args = parse_args(argv)
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        sys.stderr.write("foley-app: no display found (DISPLAY/WAYLAND_DISPLAY unset); start it from a desktop "
                         "session, or use 'foley-engine' on the command line\n")
        return 1
    log_file = setup_logging()
    install_excepthook(log_file, interactive=args.smoke_test is None and os.environ.get("QT_QPA_PLATFORM") != "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(SETTINGS_ORG)
    from foley_app.theme import apply_theme

    apply_theme(app)
    splash = show_splash(app)  # torch and the model code load next (seconds): show something at once
    window = build_window(args, log_file)
    window.show()
    splash.finish(window)
    if args.smoke_test is not None:
        from foley_app.smoke import arm

        arm(app, window, args.smoke_test)
    return app.exec()


def show_splash(app):
    """A small splash (icon, name, "loading") shown before the slow start-up work, instead of nothing
    or a black window; closed by ``finish(window)`` once the window is up."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPainter, QPixmap
    from PySide6.QtWidgets import QSplashScreen

    from foley_app.resources import app_icon
    from foley_app.theme import C

    pixmap = QPixmap(360, 150)
    pixmap.fill(C.panel)
    p = QPainter(pixmap)
    app_icon().paint(p, 20, 35, 80, 80)
    p.setPen(C.text)
    font = p.font()
    font.setPointSizeF(15)
    p.setFont(font)
    p.drawText(120, 70, APP_NAME)
    font.setPointSizeF(9)
    p.setFont(font)
    p.setPen(QColor(C.text_dim))
    p.drawText(120, 95, "loading the model and the picture\u2026")
    p.end()
    splash = QSplashScreen(pixmap, Qt.WindowStaysOnTopHint)
    splash.show()
    app.processEvents()
    return splash


def warm_up_torch() -> None:
    """Import torch and run its one-time initialisation before the window is shown.

    Importing torch (and its first ``torch.load``/first op) holds the GIL for hundreds of ms; done on
    a worker after the window is up, that froze the event loop for up to 0.66 s (measured). Done
    here, the window appears that much later but never stalls; the model itself still loads in the
    background.
    """
    import io

    import torch

    from engine.api import load_model  # noqa: F401 - the model code, imported while nothing is on screen

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    buf.seek(0)
    torch.load(buf, weights_only=True)
    torch.nn.Conv2d(1, 1, 3)(torch.zeros(1, 1, 4, 4))


def build_window(args: argparse.Namespace, log_file: Path | None = None, settings=None):
    """Make the main window and start it on the launch plan (used by ``main`` and the tests)."""
    warm_up_torch()
    from engine.api import default_cache_dir, default_db_dir, demo_db_dir, demo_index_path
    from foley_app.main_window import MainWindow
    from foley_app.resources import default_model_path, demo_library_path, demo_video_path
    from foley_app.settings import Settings
    from foley_app.startup import plan_launch

    settings = settings or Settings()
    user_db = Path(default_db_dir())
    plan = plan_launch(
        video=args.video, library=args.library, model=args.model, project=args.project,
        saved_model=settings.model_path, saved_db=settings.library_db, saved_roots=settings.library_roots,
        default_model=default_model_path(), demo_video=demo_video_path(), demo_library=demo_library_path(),
        user_db=user_db, demo_db=demo_db_dir(demo_library_path(), user_db), demo_index=demo_index_path(),
    )
    log.info("launch plan: %s", plan)
    window = MainWindow(settings, Path(default_cache_dir()), log_file)
    window.start(plan)
    return window


if __name__ == "__main__":
    sys.exit(main())
