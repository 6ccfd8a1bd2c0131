"""One sound index per user: the demo goes into the shared default index unless it holds the user's own sounds."""

from __future__ import annotations

from pathlib import Path

from engine.library.indexer import index_library
from engine.library.paths import DEMO_DB_NAME, demo_db_dir, index_roots


def test_the_demo_shares_the_default_index_until_it_holds_the_users_own_sounds(library_template: Path, model,
                                                                               tmp_path: Path) -> None:
    shared = tmp_path / "user-data" / "library"
    demo_lib = library_template / "square"
    assert index_roots(shared) is None
    assert demo_db_dir(demo_lib, shared) == shared  # no index yet: the demo goes into the shared one

    index_library([demo_lib], model, shared, workers=0, progress=False)
    assert index_roots(shared) == {str(demo_lib)}
    assert demo_db_dir(demo_lib, shared) == shared  # only the demo in it: keep using it

    index_library([demo_lib, library_template / "bar"], model, shared, workers=0, progress=False)
    assert demo_db_dir(demo_lib, shared) == shared.parent / DEMO_DB_NAME  # the user's own sounds: left alone
    assert demo_db_dir(None, shared) == shared.parent / DEMO_DB_NAME


def test_an_unreadable_index_is_treated_as_the_users_own(tmp_path: Path) -> None:
    shared = tmp_path / "library"
    shared.mkdir()
    (shared / "library.sqlite").write_bytes(b"not a database at all" * 100)
    assert demo_db_dir(tmp_path / "demo", shared) == tmp_path / DEMO_DB_NAME
