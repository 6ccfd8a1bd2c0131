"""Render the app icon SVG into the PNG set (16-512 px), a Windows .ico and a macOS .icns.

Run after changing ``resources/icons/foley-assistant.svg``::

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py

The outputs are committed in ``packaging/icons/`` so a build needs no SVG renderer.
"""

from __future__ import annotations

import argparse
import logging
import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "foley-assistant.svg"
OUT = ROOT / "packaging" / "icons"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # 256 is the largest a .ico holds
ICNS_SIZE = 512


def render(renderer: QSvgRenderer, size: int) -> QImage:
    """One square, transparent, antialiased rendering of the SVG."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def _write(image: QImage, path: Path, fmt: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    writer = QImageWriter(str(tmp), fmt.encode())
    if not writer.write(image):
        raise RuntimeError(f"could not write {path}: {writer.errorString()}")
    tmp.replace(path)


def _png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("could not encode PNG")
    return bytes(data.data())


def write_ico(pngs: dict[int, bytes], path: Path) -> None:
    """A multi-size Windows .ico with PNG-compressed entries (Qt's writer keeps only one size)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    entries, payload = b"", b""
    offset = len(header) + 16 * len(pngs)
    for size, png in sorted(pngs.items()):
        dim = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(payload))
        payload += png
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(header + entries + payload)
    tmp.replace(path)


def render_all(svg: Path = SVG, out: Path = OUT) -> list[Path]:
    """Write ``foley-assistant-<size>.png`` for every size plus ``.ico`` and ``.icns``; return the paths."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise RuntimeError(f"not a valid SVG: {svg}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for size in SIZES:
        path = out / f"foley-assistant-{size}.png"
        _write(render(renderer, size), path, "png")
        written.append(path)
    ico = out / "foley-assistant.ico"
    write_ico({size: _png_bytes(render(renderer, size)) for size in ICO_SIZES}, ico)
    icns = out / "foley-assistant.icns"
    _write(render(renderer, ICNS_SIZE), icns, "icns")
    return written + [ico, icns]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=SVG)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _app = QGuiApplication(sys.argv[:1])
    for path in render_all(args.svg, args.out):
        log.info("wrote %s", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
