"""Strict JSON reading for project files: size limit, no NaN/Infinity, no duplicate keys, typed access.

``Reader`` gives typed, range-checked access to a parsed object; its errors name the key path,
e.g. ``tracks[0].clips[2].gain_db: must be between -96 and 24 dB``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from engine.api import describe_os_error
from foley_app.core.document import MAX_NAME_CHARS
from foley_app.core.project_io.schema import AUTOSAVE_SUFFIX, MAX_FILE_BYTES, ProjectError


def _reject_constant(name: str) -> float:
    raise ProjectError(f"contains {name}, which is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ProjectError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def parse_file(path: Path) -> dict:
    """The top-level JSON object of a project file; ``ProjectError`` naming the file otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectError(f"{path}: {size >> 20} MB is far too large for a project file "
                               f"(limit {MAX_FILE_BYTES >> 20} MB)")
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ProjectError(f"{path}: project file not found") from exc
    except IsADirectoryError as exc:
        raise ProjectError(f"{path}: is a folder, not a project file") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read ({describe_os_error(exc)})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path}: not a project file (not UTF-8 text)") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except ProjectError as exc:
        raise ProjectError(f"{path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                           f"if it is an autosave, try {AUTOSAVE_SUFFIX} next to it") from exc
    except RecursionError as exc:
        raise ProjectError(f"{path}: JSON nested far too deeply to be a project") from exc
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ProjectError(f"{path}: unreadable number in JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: top level must be a JSON object, got {type_name(data)}")
    return data


def type_name(value: object) -> str:
    """How JSON calls the type of ``value`` (for messages)."""
    return {dict: "object", list: "list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


class Reader:
    """Typed, range-checked access to a parsed JSON object; errors name the key path."""

    def __init__(self, data: dict, where: str) -> None:
        self.data, self.where = data, where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, required: bool = True, default: object = None) -> object:
        if key not in self.data:
            if required:
                raise ProjectError(f"{self._key(key)}: required key is missing")
            return default
        return self.data[key]

    def number(self, key: str, lo: float, hi: float, unit: str = "", required: bool = True,
               default: float | None = None, allow_null: bool = False) -> float | None:
        if key not in self.data:
            if required:
                raise ProjectError(f"{self._key(key)}: required key is missing")
            return default
        value = self.data[key]
        if value is None and allow_null:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProjectError(f"{self._key(key)}: must be a number, got {type_name(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProjectError(f"{self._key(key)}: must be a finite number, got {value!r}")
        if not lo <= value <= hi:
            shown = repr(value) if len(repr(value)) < 40 else repr(value)[:37] + "..."
            raise ProjectError(f"{self._key(key)}: must be between {lo:g} and {hi:g}{unit}, got {shown}")
        return float(value)

    def text(self, key: str, max_chars: int = MAX_NAME_CHARS, required: bool = True, default: str = "",
             non_empty: bool = False) -> str:
        value = self.get(key, required, default)
        if not isinstance(value, str):
            raise ProjectError(f"{self._key(key)}: must be text, got {type_name(value)}")
        if len(value) > max_chars:
            raise ProjectError(f"{self._key(key)}: text longer than {max_chars} characters")
        if non_empty and not value:
            raise ProjectError(f"{self._key(key)}: must not be empty")
        if "\x00" in value:
            raise ProjectError(f"{self._key(key)}: contains a NUL character")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key, False, default)
        if not isinstance(value, bool):
            raise ProjectError(f"{self._key(key)}: must be true or false, got {type_name(value)}")
        return value

    def items(self, key: str, limit: int) -> list:
        value = self.get(key, False, [])
        if not isinstance(value, list):
            raise ProjectError(f"{self._key(key)}: must be a list, got {type_name(value)}")
        if len(value) > limit:
            raise ProjectError(f"{self._key(key)}: {len(value)} entries, more than the {limit} allowed")
        return value

    def child(self, value: object, where: str) -> Reader:
        if not isinstance(value, dict):
            raise ProjectError(f"{where}: must be an object, got {type_name(value)}")
        return Reader(value, where)
