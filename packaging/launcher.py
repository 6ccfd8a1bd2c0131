"""Entry point of the bundled app: ``foley-assistant`` opens the GUI; the same program started
through a link named ``foley-engine`` runs the command-line tool (one bundle, both commands)."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    """Dispatch on the program name; both entry points return or raise SystemExit with the exit code."""
    multiprocessing.freeze_support()  # worker processes re-enter here on Windows/macOS (spawn)
    if Path(sys.argv[0]).stem.lower().startswith("foley-engine"):
        from engine.cli import main as run
    else:
        from foley_app.main import main as run
    return run() or 0


if __name__ == "__main__":
    sys.exit(main())
