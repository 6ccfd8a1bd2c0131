"""Persistent settings (QSettings): model file, device, top-k, ranking mode, audio device, layout, recents."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from engine.api import SETTINGS_APP as APP
from engine.api import SETTINGS_ORG as ORG

log = logging.getLogger(__name__)

MAX_RECENT = 10


class Settings:
    """Typed accessors over one ``QSettings`` store (ini format, so a user can read it)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is not None:
            self.q = QSettings(str(path), QSettings.IniFormat)
        else:
            self.q = QSettings(QSettings.IniFormat, QSettings.UserScope, ORG, APP)

    # -- helpers -------------------------------------------------------------------------------
    def _get(self, key: str, default, kind):
        value = self.q.value(key, default)
        try:
            if kind is bool and isinstance(value, str):
                return value.lower() in ("1", "true", "yes")
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            log.warning("settings: bad value for %s: %r; using %r", key, value, default)
            return default

    def _path(self, key: str) -> Path | None:
        value = self.q.value(key, "")
        return Path(value) if value else None

    def _set_path(self, key: str, value: Path | None) -> None:
        self.q.setValue(key, str(value) if value else "")

    # -- engine --------------------------------------------------------------------------------
    @property
    def model_path(self) -> Path | None:
        return self._path("engine/model")

    @model_path.setter
    def model_path(self, value: Path | None) -> None:
        self._set_path("engine/model", value)

    @property
    def library_db(self) -> Path | None:
        return self._path("engine/library_db")

    @library_db.setter
    def library_db(self, value: Path | None) -> None:
        self._set_path("engine/library_db", value)

    @property
    def library_roots(self) -> list[Path]:
        value = self.q.value("engine/library_roots", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [Path(v) for v in (value or [])]

    @library_roots.setter
    def library_roots(self, roots: list[Path]) -> None:
        self.q.setValue("engine/library_roots", [str(r) for r in roots])

    @property
    def device(self) -> str:
        return self._get("engine/device", "auto", str)

    @device.setter
    def device(self, value: str) -> None:
        self.q.setValue("engine/device", value)

    @property
    def top_k(self) -> int:
        return max(1, min(200, self._get("engine/top_k", 25, int)))

    @top_k.setter
    def top_k(self, value: int) -> None:
        self.q.setValue("engine/top_k", int(value))

    @property
    def per_segment(self) -> bool:
        """True: one row per matching 1-s segment; False: one row per file (its best segment)."""
        return self._get("engine/per_segment", False, bool)

    @per_segment.setter
    def per_segment(self, value: bool) -> None:
        self.q.setValue("engine/per_segment", bool(value))

    # -- audio ---------------------------------------------------------------------------------
    @property
    def audio_device(self) -> str:
        return self._get("audio/device", "", str)

    @audio_device.setter
    def audio_device(self, value: str) -> None:
        self.q.setValue("audio/device", value)

    @property
    def volume(self) -> float:
        return max(0.0, min(1.0, self._get("audio/volume", 0.8, float)))

    @volume.setter
    def volume(self, value: float) -> None:
        self.q.setValue("audio/volume", float(value))

    @property
    def auto_audition(self) -> bool:
        return self._get("audio/auto_audition", True, bool)

    @auto_audition.setter
    def auto_audition(self, value: bool) -> None:
        self.q.setValue("audio/auto_audition", bool(value))

    @property
    def play_whole_file(self) -> bool:
        return self._get("audio/whole_file", False, bool)

    @play_whole_file.setter
    def play_whole_file(self, value: bool) -> None:
        self.q.setValue("audio/whole_file", bool(value))

    # -- window & recents ----------------------------------------------------------------------
    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    def layout(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.q.value("window/geometry"), self.q.value("window/state")

    def recent_projects(self) -> list[Path]:
        value = self.q.value("recent/projects", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [Path(v) for v in (value or [])]

    def add_recent_project(self, path: Path) -> None:
        items = [p for p in self.recent_projects() if p != path]
        self.q.setValue("recent/projects", [str(p) for p in ([path] + items)[:MAX_RECENT]])

    def get(self, key: str, default=None):
        return self.q.value(key, default)

    def set(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()
