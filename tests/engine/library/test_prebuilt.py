"""The pre-built index artefact: export, validate, install elsewhere, verify by the incremental pass."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SoundIndexError
from engine.library.indexer import index_library
from engine.library.paths import DB_FILE
from engine.library.prebuilt import (
    MANIFEST,
    VECTORS,
    export_prebuilt,
    install_prebuilt,
    install_prebuilt_first,
    read_prebuilt,
    stale_reasons,
)
from engine.library.sound_index import SoundIndex

from .conftest import tiny_model, write_wav
from .test_indexer import CountingAudio, assert_consistent

REPO = Path(__file__).resolve().parents[3]


def small_library(root: Path) -> Path:
    """Six plain sound files in two folders (the demo library's shape, in miniature)."""
    for i, (cls, seconds) in enumerate([("circle", 1.5), ("circle", 2.5), ("square", 1.0), ("square", 3.0),
                                         ("triangle", 2.0), ("bar", 1.2)]):
        write_wav(root / ("a" if i % 2 else "b") / f"{cls}_{i}.wav", cls, seconds, variant=i % 2)
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory, model) -> tuple[Path, Path, Path]:
    """``(library, index built by the indexer, artefact)``; the library copy is moved away afterwards."""
    base = tmp_path_factory.mktemp("prebuilt")
    lib = small_library(base / "build-site" / "library")
    db = base / "db"
    index_library([lib], model, db, workers=0, progress=False)
    art = base / "artefact"
    export_prebuilt(db, lib, art)
    return lib, db, art


@pytest.fixture
def moved_library(built, tmp_path: Path) -> Path:
    """The same library copied to another place (new mtimes, new absolute paths), as a git clone gives."""
    lib = tmp_path / "elsewhere" / "demo"
    shutil.copytree(built[0], lib)
    for p in lib.rglob("*.wav"):
        os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 7_000_000_000))
    return lib


def top_k(db: Path, model_id: str, root: Path, query: np.ndarray, k: int = 5) -> list[tuple[float, str, int]]:
    """``(distance, path relative to root, segment)`` of the k nearest segments (exact ties ordered by path)."""
    with SoundIndex.open(db, model_id) as index:
        labels, dist = index.hnsw.search(query, k)
        by_label = {f.label0 + s: (f.path.relative_to(root).as_posix(), s) for f in index.files() for s in range(f.n_segments)}
        return sorted((round(float(d), 5), *by_label[int(lab)]) for lab, d in zip(labels, dist))


def test_artefact_is_relative_and_compact(built, model) -> None:
    lib, db, art = built
    data = json.loads((art / MANIFEST).read_text())
    assert data["model_id"] == model.model_id and data["dim"] == model.cfg.embed_dim
    assert [f["path"] for f in data["files"]] == sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*.wav"))
    assert str(lib.parent) not in (art / MANIFEST).read_text()  # no absolute path of the build site
    assert "mtime" not in (art / MANIFEST).read_text()
    assert sorted(p.name for p in art.iterdir()) == [MANIFEST, VECTORS]
    pre = read_prebuilt(art)
    with SoundIndex.open(db, model.model_id) as index:
        assert len(pre.vectors) == sum(f.n_segments for f in index.files())


def test_export_is_deterministic(built, tmp_path: Path) -> None:
    lib, db, art = built
    export_prebuilt(db, lib, tmp_path / "again")
    for name in (MANIFEST, VECTORS):
        assert (tmp_path / "again" / name).read_bytes() == (art / name).read_bytes()


def test_install_elsewhere_matches_fresh_index_and_embeds_nothing(built, moved_library: Path, model, tmp_path: Path) -> None:
    _, _, art = built
    db = tmp_path / "user-data" / "demo-library"
    result = install_prebuilt(art, moved_library, db, model.model_id)
    assert result.installed, result.reason
    assert result.files == 6 and (db / DB_FILE).is_file()
    assert not list(db.parent.glob(".*tmp"))  # the temp folder was renamed into place
    with SoundIndex.open(db, model.model_id) as index:
        assert all(str(f.path).startswith(str(moved_library)) and f.root == moved_library for f in index.files())

    fresh = tmp_path / "fresh"
    index_library([moved_library], model, fresh, workers=0, progress=False)
    rng = np.random.default_rng(3)
    for _ in range(3):
        q = rng.normal(size=model.cfg.embed_dim).astype(np.float32)
        q /= np.linalg.norm(q)
        assert top_k(db, model.model_id, moved_library, q) == top_k(fresh, model.model_id, moved_library, q)

    with CountingAudio(model) as counted:
        report = index_library([moved_library], model, db, workers=0, progress=False)
    assert counted.rows == 0 and report.embedded_segments == 0
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 6)
    index = assert_consistent(db, model.model_id)
    assert all(f.mtime_ns == (Path(f.path).stat().st_mtime_ns) for f in index.files())  # verified, then trusted
    index.close()


def test_modified_added_removed_files_are_fixed_by_the_pass(built, moved_library: Path, model, tmp_path: Path) -> None:
    _, _, art = built
    changed = next(moved_library.rglob("square_2.wav"))
    write_wav(changed, "triangle", 2.0, variant=3)  # new content, same name
    next(moved_library.rglob("bar_5.wav")).unlink()
    write_wav(moved_library / "b" / "new.wav", "circle", 1.0)
    db = tmp_path / "db"
    assert install_prebuilt(art, moved_library, db, model.model_id).installed
    with CountingAudio(model) as counted:
        report = index_library([moved_library], model, db, workers=0, progress=False)
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 4)
    assert counted.rows == report.embedded_segments == 1 + 3  # new.wav: 1 segment; square_2 (2 s): 3
    assert_consistent(db, model.model_id).close()
    # the re-embedded file's vectors are the ones a fresh index gives
    fresh = tmp_path / "fresh"
    index_library([moved_library], model, fresh, workers=0, progress=False)
    q = np.random.default_rng(5).normal(size=model.cfg.embed_dim).astype(np.float32)
    assert top_k(db, model.model_id, moved_library, q / np.linalg.norm(q), k=8) == top_k(
        fresh, model.model_id, moved_library, q / np.linalg.norm(q), k=8)


def test_other_model_is_not_installed(built, moved_library: Path, tmp_path: Path) -> None:
    other = tiny_model(1)
    db = tmp_path / "db"
    result = install_prebuilt(built[2], moved_library, db, other.model_id)
    assert not result.installed and other.model_id in result.reason and "pre-built index is for model" in result.reason
    assert not db.exists()


def corrupt_copies(art: Path, tmp: Path):
    """``(name, artefact folder)`` of damaged copies of ``art``."""
    def copy(name: str) -> Path:
        dst = tmp / name
        shutil.copytree(art, dst)
        return dst

    d = copy("truncated-vectors")
    (d / VECTORS).write_bytes((d / VECTORS).read_bytes()[:-100])
    yield "truncated vectors", d
    d = copy("truncated-manifest")
    (d / MANIFEST).write_bytes((d / MANIFEST).read_bytes()[:500])
    yield "truncated manifest", d
    d = copy("no-vectors")
    (d / VECTORS).unlink()
    yield "missing vectors", d
    def with_first_file(name: str, key: str, value) -> Path:
        d = copy(name)
        data = json.loads((d / MANIFEST).read_text())
        data["files"][0][key] = value(data["files"][0][key]) if callable(value) else value
        (d / MANIFEST).write_text(json.dumps(data))
        return d

    yield "path outside the library", with_first_file("escape", "path", "../../etc/passwd")
    yield "segment count", with_first_file("count", "n_segments", lambda n: n + 1)
    yield "wrong type", with_first_file("nan", "duration", "long")
    yield "missing folder", tmp / "does-not-exist"


def test_corrupt_artefact_is_refused_and_target_untouched(built, moved_library: Path, model, tmp_path: Path) -> None:
    for what, art in corrupt_copies(built[2], tmp_path / "bad"):
        with pytest.raises(SoundIndexError, match="pre-built|manifest|vectors|checksum|bad or missing|segments"):
            read_prebuilt(art)
        db = tmp_path / "target" / what.replace(" ", "-")
        db.mkdir(parents=True)  # an empty folder the app may have made: still empty afterwards
        result = install_prebuilt(art, moved_library, db, model.model_id)
        assert not result.installed and result.reason, what
        assert list(db.iterdir()) == [], what
        assert not list(db.parent.glob(".*tmp")), what


def test_a_failure_mid_install_leaves_no_index(built, moved_library: Path, model, tmp_path: Path, monkeypatch) -> None:
    import engine.atomic

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.atomic, "fsync_tree", crash)  # after the index is written, before the rename
    db = tmp_path / "user" / "demo-library"
    result = install_prebuilt(built[2], moved_library, db, model.model_id)
    assert not result.installed and "No space left" in result.reason
    assert not db.exists() and list(db.parent.iterdir()) == []  # no half index, no temp folder


def test_existing_index_is_never_replaced(built, moved_library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    write_wav(tmp_path / "own" / "x.wav", "circle", 1.0)
    index_library([tmp_path / "own"], model, db, workers=0, progress=False)
    before = (db / DB_FILE).read_bytes()
    result = install_prebuilt(built[2], moved_library, db, model.model_id)
    assert not result.installed and "already holds" in result.reason
    assert (db / DB_FILE).read_bytes() == before


def test_a_non_empty_target_is_left_to_the_indexer(built, moved_library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    db.mkdir()
    (db / "vectors").mkdir()  # e.g. a killed first run's chunk folder
    result = install_prebuilt(built[2], moved_library, db, model.model_id)
    assert not result.installed and "not empty" in result.reason
    assert [p.name for p in db.iterdir()] == ["vectors"]


def test_install_first_only_when_it_applies(built, moved_library: Path, model, tmp_path: Path) -> None:
    """The one rule (CLI and app): an artefact, no index yet, exactly one library folder; else why not."""
    db = tmp_path / "db"
    assert install_prebuilt_first(None, [moved_library], db, model.model_id) is None  # nothing to install
    assert not db.exists()
    for roots in ([moved_library, tmp_path / "other"], []):
        result = install_prebuilt_first(built[2], roots, db, model.model_id)
        assert result is not None and not result.installed and "one library folder" in result.reason
        assert not db.exists()
    result = install_prebuilt_first(built[2], [moved_library], db, model.model_id)
    assert result is not None and result.installed and result.files == 6
    before = (db / DB_FILE).read_bytes()
    assert install_prebuilt_first(built[2], [moved_library], db, model.model_id) is None  # an index is there: the pass updates it
    assert (db / DB_FILE).read_bytes() == before


def test_install_first_reports_a_bad_artefact(moved_library: Path, model, tmp_path: Path) -> None:
    result = install_prebuilt_first(tmp_path / "no-artefact", [moved_library], tmp_path / "db", model.model_id)
    assert result is not None and not result.installed and "manifest" in result.reason
    assert not (tmp_path / "db").exists()


def test_stale_reasons(built, moved_library: Path, model) -> None:
    art = built[2]
    assert stale_reasons(art, moved_library, model.model_id) == []
    assert any("model" in r for r in stale_reasons(art, moved_library, "0" * 16))
    write_wav(moved_library / "a" / "circle_1.wav", "bar", 2.5)
    write_wav(moved_library / "a" / "extra.wav", "bar", 1.0)
    reasons = stale_reasons(art, moved_library, model.model_id)
    assert any("changed" in r and "circle_1" in r for r in reasons) and any("a/extra.wav" in r for r in reasons)


def test_committed_demo_index_matches_the_default_model_and_demo_library() -> None:
    """Replacing resources/models/default.pt or the demo library needs: .venv/bin/python scripts/build_demo_index.py"""
    from engine.models.model_file import read_payload

    model, library, art = REPO / "resources/models/default.pt", REPO / "resources/demo/library", REPO / "resources/demo/index"
    if not model.is_file() or not library.is_dir():
        pytest.skip("no default model or demo library in this checkout")
    model_id = read_payload(model)["model_id"]
    assert stale_reasons(art, library, model_id) == [], "rebuild it: .venv/bin/python scripts/build_demo_index.py"
    assert len(read_prebuilt(art).files) == sum(p.is_file() for p in library.rglob("*"))  # installable: passes every check


def test_cli_index_installs_the_prebuilt_index_then_checks_every_file(built, moved_library: Path, model_file: Path, tmp_path: Path) -> None:
    """`foley-engine index DIR --prebuilt ART` (scripts/demo's headless path): installed, nothing to embed."""
    from typer.testing import CliRunner

    from engine.cli import app

    db = tmp_path / "cli-db"
    result = CliRunner().invoke(app, ["index", str(moved_library), "--db", str(db), "--model", str(model_file),
                                      "--prebuilt", str(built[2]), "--workers", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "pre-built index installed: 6 files" in result.output
    assert "0 added" in result.output and "6 files" in result.output and "nothing to embed" in result.output
    other = CliRunner().invoke(app, ["index", str(moved_library), "--db", str(tmp_path / "db2"), "--model", str(model_file),
                                     "--prebuilt", str(tmp_path / "missing"), "--workers", "0", "--quiet"])
    assert other.exit_code == 0, other.output
    assert "pre-built index not used" in other.output and "6 added" in other.output
