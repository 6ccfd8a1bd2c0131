"""Errors of the exports and the mix they are made from."""

from __future__ import annotations

from foley_app.core.document import DocumentError


class ExportError(DocumentError):
    """An export could not be made; nothing was written over the target."""


class ExportCancelled(ExportError):
    """The user cancelled an export; nothing was written."""
