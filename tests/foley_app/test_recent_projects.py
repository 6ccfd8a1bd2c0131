"""The recent-projects list (``Settings.add_recent_project``, the app's only one): newest first, no duplicates."""

from __future__ import annotations

from pathlib import Path

from foley_app.settings import MAX_RECENT, Settings


def test_recent_list_puts_the_newest_first_without_duplicates(tmp_path: Path) -> None:
    s = Settings(tmp_path / "s.ini")
    a, b, c = (tmp_path / n for n in ("a.foley.json", "b.foley.json", "c.foley.json"))
    for p in (a, b, a):
        s.add_recent_project(p)
    assert s.recent_projects() == [a, b]
    for i in range(MAX_RECENT):
        s.add_recent_project(tmp_path / f"p{i}.foley.json")
    s.add_recent_project(c)
    recent = s.recent_projects()
    assert len(recent) == MAX_RECENT and recent[0] == c and a not in recent
