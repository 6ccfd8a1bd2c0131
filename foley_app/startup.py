"""What to open at launch: command-line arguments, then saved settings, then the bundled demo.

A pure function of its inputs (no Qt), so every branch is testable: the window only carries out
the plan and shows ``problems`` in a first-run message instead of crashing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from engine.api import DB_FILE

log = logging.getLogger(__name__)


@dataclass
class LaunchPlan:
    """Everything the window needs to start; ``None`` means "not available", see ``problems``."""

    model: Path | None
    db_dir: Path | None
    library_roots: list[Path]
    video: Path | None
    project: Path | None
    demo: bool = False  # the bundled demo is in use
    needs_indexing: bool = False  # the index is missing: build it before ranking
    problems: list[str] = field(default_factory=list)
    prebuilt_index: Path | None = None  # shipped index of the demo library, installed before the first indexing


def plan_launch(
    *,
    video: Path | None,
    library: Path | None,
    model: Path | None,
    project: Path | None,
    saved_model: Path | None,
    saved_db: Path | None,
    saved_roots: list[Path],
    default_model: Path | None,
    demo_video: Path | None,
    demo_library: Path | None,
    user_db: Path,
    demo_db: Path,
    demo_index: Path | None = None,
) -> LaunchPlan:
    """Decide model, index, library folders and video. Arguments win over settings, settings over the demo."""
    problems: list[str] = []
    model_path = model or saved_model or default_model
    if model is not None and not model.is_file():
        problems.append(f"model file not found: {model}")
        model_path = saved_model or default_model
    if model_path is not None and not Path(model_path).is_file():
        problems.append(f"model file not found: {model_path}")
        model_path = None
    if model_path is None:
        problems.append("no model: the default model (resources/models/default.pt) is not installed. "
                        "Choose a model file with Library \u25b8 Choose Model\u2026, or train one with 'foley-engine train'.")

    roots = list(saved_roots)
    db_dir = saved_db
    demo = False
    if library is not None:
        if not library.exists():
            problems.append(f"library folder not found: {library}")
        elif (library / DB_FILE).is_file():
            db_dir = library
        else:
            roots = [library] + [r for r in roots if r != library]
            db_dir = saved_db or user_db
    if db_dir is None and not roots:
        if demo_library is not None:
            roots, db_dir, demo = [demo_library], demo_db, True
        else:
            problems.append("no sound library yet: add a folder of sounds in the Library panel.")
    elif db_dir is None:
        db_dir = user_db

    video_path = video
    if video_path is not None and not video_path.exists():
        problems.append(f"video not found: {video_path}")
        video_path = None
    if video_path is None and project is None and demo and demo_video is not None:
        video_path = demo_video
    needs_indexing = db_dir is not None and not (Path(db_dir) / DB_FILE).is_file() and bool(roots)
    prebuilt = demo_index if demo and needs_indexing else None
    return LaunchPlan(model_path, db_dir, roots, video_path, project, demo, needs_indexing, problems, prebuilt)
