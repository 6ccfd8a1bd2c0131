"""No code path can run code from a user's file: a syntax-tree scan of ``engine/`` and ``foley_app/``
for ``torch.load`` without ``weights_only=True``, any pickle/marshal/shelve load, ``np.load(...,
allow_pickle=True)``, unsafe YAML, and the builtins ``eval``/``exec``/``compile``/``__import__``."""

from __future__ import annotations

import ast

from .conftest import ROOT

PACKAGES = ("engine", "foley_app")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _kw(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_calls(source: str, filename: str = "<src>") -> list[str]:
    """``file:line: what`` for every call in ``source`` that could unpickle or evaluate untrusted data."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"{filename}:{node.lineno}"
        if name.endswith("torch.load"):
            if not _is_true(_kw(node, "weights_only")):
                found.append(f"{where}: torch.load without weights_only=True")
        elif name in ("torch.jit.load", "torch.package.PackageImporter"):
            found.append(f"{where}: {name} (runs code)")
        elif name.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib") and name.split(".")[-1] in (
            "load", "loads", "Unpickler", "open"
        ):
            found.append(f"{where}: {name}")
        elif name in ("np.load", "numpy.load") and _is_true(_kw(node, "allow_pickle")):
            found.append(f"{where}: {name}(allow_pickle=True)")
        elif name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
            found.append(f"{where}: {name}")
        elif isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec", "compile", "__import__"):
            found.append(f"{where}: builtin {node.func.id}()")
    return found


def test_the_scanner_finds_what_it_looks_for() -> None:
    bad = """
import pickle, torch, numpy as np, marshal
a = torch.load(p)
b = torch.load(p, weights_only=False)
c = pickle.loads(data)
d = np.load(p, allow_pickle=True)
e = eval(text)
exec(code)
f = marshal.loads(b)
g = pickle.Unpickler(fh).load()
"""
    assert len(unsafe_calls(bad)) == 8, unsafe_calls(bad)
    good = """
import torch, numpy as np
a = torch.load(p, map_location="cpu", weights_only=True)
d = np.load(p, allow_pickle=False)
m = np.load(p, mmap_mode="r")
model.eval()
dialog.exec()
"""
    assert unsafe_calls(good) == []


def test_no_unsafe_load_in_engine_or_app() -> None:
    problems: list[str] = []
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 40  # the scan really looked at the code base
    for path in files:
        problems += unsafe_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == [], "\n".join(problems)
