"""PySide6 calls that return nothing must not exhaust None's reference count (app abort)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import foley_app
from PySide6.QtGui import QFont
f = QFont()
for _ in range(200_000):
    f.setBold(True)  # a void method: PySide6 6.12 drops a reference to None here
print("ok", sys.getrefcount(None) > 1_000_000)
"""


def test_many_void_pyside_calls_do_not_abort() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "True"]


def test_protect_none_is_idempotent() -> None:
    from foley_app._none_refcount import protect_none

    before = sys.getrefcount(None)
    assert protect_none() is False  # already done when foley_app was imported
    assert sys.getrefcount(None) - before < 1000
