"""The architecture contracts: engine never imports Qt or the app; the app's core never imports Qt or the UI."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "foley_app", "shiboken6")


def _modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


def _core_offences(path: Path) -> list[str]:
    """What a core module imports that the core may not: Qt, or an app module outside ``foley_app.core``."""
    bad = []
    for name in sorted(_modules(path)):
        top = name.split(".")[0]
        if top in ("PySide6", "shiboken6"):
            bad.append(name)
        elif top == "foley_app" and name != "foley_app" and not (name + ".").startswith("foley_app.core."):
            bad.append(name)
    return bad


def test_engine_never_imports_qt_or_app() -> None:
    files = sorted((ROOT / "engine").rglob("*.py"))
    assert files, "engine package not found"
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & set(FORBIDDEN)) for p in files}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_contract_detects_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\nimport foley_app.main\n")
    assert _imports(bad) & set(FORBIDDEN) == {"PySide6", "foley_app"}


def test_import_linter_contract_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'forbidden_modules = ["PySide6", "foley_app"]' in text


def _offenders(folder: Path, min_files: int, offences: Callable[[Path], list[str]]) -> dict[str, list[str]]:
    """``offences(path)`` for every module below ``folder`` that has any."""
    files = sorted(folder.rglob("*.py"))
    assert len(files) > min_files, f"{folder} not found"
    found = {str(p.relative_to(ROOT)): offences(p) for p in files}
    return {k: v for k, v in found.items() if v}


def test_app_core_never_imports_qt_or_the_ui() -> None:
    assert _offenders(ROOT / "foley_app" / "core", 10, _core_offences) == {}


def test_core_contract_detects_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from foley_app.core.document import Document\nfrom foley_app import settings\n"
                   "import foley_app.undo\nfrom PySide6.QtGui import QUndoStack\n")
    assert _core_offences(bad) == ["PySide6.QtGui", "PySide6.QtGui.QUndoStack", "foley_app.settings", "foley_app.undo"]


def test_core_import_linter_contract_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'source_modules = ["foley_app.core"]' in text and '"foley_app.undo"' in text


def _door_offences(path: Path) -> list[str]:
    """What an app module imports from the engine other than ``engine.api``."""
    return sorted(name for name in _modules(path)
                  if name.split(".")[0] == "engine" and not (name + ".").startswith("engine.api."))


def test_app_reaches_the_engine_only_through_its_api() -> None:
    assert _offenders(ROOT / "foley_app", 30, _door_offences) == {}


def test_door_check_detects_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from engine.api import Candidate\nimport engine.models\nfrom engine import errors\n"
                   "from engine.data.media import probe_video\n")
    assert _door_offences(bad) == ["engine", "engine.data.media", "engine.data.media.probe_video", "engine.errors",
                                   "engine.models"]


def test_door_import_linter_contract_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'ignore_imports = ["foley_app.** -> engine.api"]' in text


def test_the_core_contract_of_import_linter_names_every_ui_module() -> None:
    """import-linter's "core knows nothing of the UI" contract lists the UI modules by name: a new
    top-level UI module or package must be added there, or lint-imports would not guard it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["source_modules"] == ["foley_app.core"])
    app = ROOT / "foley_app"
    ui = {f"foley_app.{p.stem}" for p in app.glob("*.py") if p.stem != "__init__"}
    ui |= {f"foley_app.{p.name}" for p in app.iterdir() if (p / "__init__.py").is_file() and p.name != "core"}
    assert ui and sorted(ui - set(contract["forbidden_modules"])) == []
