"""Foley Assistant desktop app (PySide6). Talks to the engine only through ``engine.api``."""

from foley_app._none_refcount import protect_none

protect_none()  # before any PySide6 call: see the module (PySide6 6.12 + CPython 3.11)

APP_NAME = "Foley Assistant"  # window titles and the application name
