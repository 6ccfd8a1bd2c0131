"""Guard against PySide6 6.12 dropping a reference to ``None`` on every call that returns nothing.

On CPython < 3.12 ``None`` is reference counted. PySide6 6.12.0 (built for immortal ``None``,
PEP 683) returns it from void methods (``QPainter.setPen``, ``QFont.setBold``, ...) and from an
invalid ``QVariant`` without taking a reference, so each such call lowers ``None``'s count by one
and the app aborts with "Fatal Python error: none_dealloc" after a few thousand repaints. Giving
``None`` a count no program can exhaust is what CPython 3.12 does for every immortal object.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

HEADROOM = 1 << 40  # ~1e12 leaked references: years of painting


def protect_none() -> bool:
    """Raise ``None``'s reference count far out of reach on CPython < 3.12; True when it did."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) >= HEADROOM:
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += HEADROOM  # ob_refcnt is the first field of every object
    log.debug("None made effectively immortal (PySide6 6.12 reference leak on CPython %s)", sys.version.split()[0])
    return True
