"""The architecture contract: engine never imports Qt or the app."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "foley_app", "shiboken6")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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
