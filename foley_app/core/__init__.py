"""The app's Qt-free core: the timeline document and its commands, project files, the mix and the exports.

Nothing here imports PySide6 or the app's UI (an import-linter contract in ``pyproject.toml``
checks it), so ``foley-engine export`` and the tests use it without a display. Importing this
package imports nothing else: each module is loaded when asked for.
"""
