"""QUndoCommand adapters over the document's Command objects, so every edit is on one QUndoStack."""

from __future__ import annotations

import logging

from PySide6.QtGui import QUndoCommand, QUndoStack

from foley_app.core.commands import Command
from foley_app.core.document import Document

log = logging.getLogger(__name__)


class DocUndoCommand(QUndoCommand):
    """Wraps a ``Command`` that was already done: the stack's first ``redo`` is skipped."""

    def __init__(self, doc: Document, cmd: Command) -> None:
        super().__init__(cmd.text)
        self.doc, self.cmd = doc, cmd
        self._first = True

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self.cmd.do(self.doc)
        self.setText(self.cmd.text)

    def undo(self) -> None:
        self.cmd.undo(self.doc)

    def id(self) -> int:
        return self.cmd.merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        return isinstance(other, DocUndoCommand) and self.cmd.merge_with(other.cmd)


def push(stack: QUndoStack, doc: Document, cmd: Command) -> None:
    """Do ``cmd`` now (a ``DocumentError`` leaves everything unchanged and propagates), then record it."""
    cmd.do(doc)
    stack.push(DocUndoCommand(doc, cmd))
