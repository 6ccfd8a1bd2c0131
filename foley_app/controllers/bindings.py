"""Each saved preference bound once to the controls that show it and to what it does in the app.

A binding keeps its controls in step (a menu action and a panel button, say), writes a change to
``Settings``, and applies it (player, engine, audition). ``load()`` puts the stored values on the
controls at start-up and again after the Preferences dialog changed the store: a value is applied
only when it differs from the one last applied, unless the binding asks to be applied on every
later load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from foley_app.settings import Settings

log = logging.getLogger(__name__)

_UNSET = object()


@dataclass
class Binding:
    """One preference: ``Settings`` attribute ``key``, its controls and its effect."""

    key: str
    apply: Callable[[Any], None]
    show: Callable[[Any], None] = lambda value: None  # put the value on the controls (their signals may fire)
    reapply: bool = False  # apply again on each later load (the audio device: it re-probes the output)
    applied: Any = field(default=_UNSET)  # the value in effect (``_UNSET``: none yet)


class SettingBindings:
    """The table of bound preferences (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bindings: dict[str, Binding] = {}
        self._busy = False
        self._loaded = False

    def toggle(self, key: str, controls: tuple, apply: Callable[[bool], None] = lambda on: None) -> None:
        """A boolean shown by checkable controls (``QAction``s, buttons), all kept in step."""

        def show(on: bool) -> None:
            for c in controls:
                if c.isChecked() != on:
                    c.setChecked(on)

        self.bindings[key] = Binding(key, apply, show)
        for c in controls:
            c.toggled.connect(lambda on, key=key: self.changed(key, bool(on)))

    def number(self, key: str, widget, apply: Callable[[Any], None], scale: int = 1) -> None:
        """A number shown by a spin box or slider (which holds ``value * scale``)."""
        self.bindings[key] = Binding(key, apply, lambda v: widget.setValue(int(round(v * scale))))
        if scale == 1:
            widget.valueChanged.connect(lambda v, key=key: self.changed(key, v))
        else:
            widget.valueChanged.connect(lambda v, key=key: self.changed(key, v / scale))

    def value(self, key: str, apply: Callable[[Any], None], reapply: bool = False, in_effect: Any = _UNSET) -> None:
        """A preference with no control of its own (set in the Preferences dialog); ``in_effect``: the
        value the app already uses (applied at construction)."""
        self.bindings[key] = Binding(key, apply, reapply=reapply, applied=in_effect)

    def changed(self, key: str, value: Any) -> None:
        """A control changed ``key``: the other controls follow, the store keeps it, the app applies it."""
        if self._busy:
            return
        b = self.bindings[key]
        self._busy = True
        try:
            b.show(value)
        finally:
            self._busy = False
        setattr(self.settings, key, value)
        self._apply(b, value)

    def load(self) -> list[str]:
        """Show and apply the stored values; returns the keys that were applied."""
        applied = []
        for key, b in self.bindings.items():
            before = b.applied
            b.show(getattr(self.settings, key))  # a control that moves reports it (``changed``)
            value = getattr(self.settings, key)  # what the control could hold (a spin box's range)
            again = b.reapply and self._loaded
            if again or b.applied is _UNSET or b.applied != value:
                self._apply(b, value)
            if again or before is _UNSET or b.applied != before:
                applied.append(key)
        self._loaded = True
        return applied

    @staticmethod
    def _apply(b: Binding, value: Any) -> None:
        b.applied = value
        b.apply(value)
