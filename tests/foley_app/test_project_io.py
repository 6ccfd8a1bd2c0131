"""Project files: round trips, relative paths, crash-safe saves, hostile JSON, autosave and relinking."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foley_app.core import project_io
from foley_app.core.commands import AddClip, AddTrack, MoveClip, RelinkMedia, SetClipGain, SetTrackMute, SetTrackSolo
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import (
    ProjectError,
    autosave_path,
    changed_on_disk,
    find_recovery,
    find_relinks,
    load_project,
    missing_media,
    save_project,
    sidecar_path,
    write_autosave,
)
from foley_app.core.project_io import autosave as autosave_io
from foley_app.core.project_io import reader as project_reader

ROOT = Path(__file__).resolve().parents[2]


def _media(folder: Path) -> dict[str, Path]:
    """Tiny real files where a project expects them: a video next to it, sounds in ../sfx."""
    files = {"video": folder / "project" / "media" / "scene.mp4",
             "door": folder / "sfx" / "doors" / "door ö.wav",
             "step": folder / "sfx" / "steps" / "step.wav"}
    for p in files.values():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"RIFF")
    return files


def _doc(files: dict[str, Path]) -> Document:
    doc = Document(video=files["video"])
    AddTrack("Foley ✓").do(doc)
    AddTrack("Amb").do(doc)
    a, b = doc.tracks
    AddClip(a.id, Clip("c1", files["door"], 0.125, 1.5, 2.0, -3.5, "door", "DOORS", 2.25)).do(doc)
    AddClip(a.id, Clip("c2", files["step"], 0.0, 0.4, 5.1, 0.0, "", "", None)).do(doc)
    AddClip(b.id, Clip("c3", files["step"], 0.1, 0.3, 0.1 + 1 / 3, 6.0)).do(doc)
    SetTrackMute(b.id, True).do(doc)
    SetTrackSolo(a.id, True).do(doc)
    return doc


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    files = _media(tmp_path)
    doc = _doc(files)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(doc, path)
    assert not doc.dirty and doc.path == path
    back = load_project(path)
    assert back.state() == doc.state() and back.path == path and not back.dirty
    assert missing_media(back) == []
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "foley-assistant-project" and data["version"] == 2
    assert data["video"] == "media/scene.mp4"
    assert data["tracks"][0]["clips"][0]["sound"] == "../sfx/doors/door ö.wav"


def test_moving_the_folder_with_its_media_keeps_every_link(tmp_path: Path) -> None:
    files = _media(tmp_path / "a")
    save_project(_doc(files), tmp_path / "a" / "project" / "scene.foley.json")
    shutil.move(tmp_path / "a", tmp_path / "b")
    back = load_project(tmp_path / "b" / "project" / "scene.foley.json")
    assert missing_media(back) == []
    assert back.video == tmp_path / "b" / "project" / "media" / "scene.mp4"
    assert back.find_clip("c1")[1].sound_path == tmp_path / "b" / "sfx" / "doors" / "door ö.wav"


def test_a_project_moved_alone_finds_media_at_its_original_place(tmp_path: Path) -> None:
    files = _media(tmp_path)
    save_project(_doc(files), tmp_path / "project" / "scene.foley.json")
    elsewhere = tmp_path / "deep" / "er" / "scene.foley.json"
    elsewhere.parent.mkdir(parents=True)
    shutil.move(tmp_path / "project" / "scene.foley.json", elsewhere)
    back = load_project(elsewhere)
    assert back.find_clip("c1")[1].sound_path == files["door"]
    assert back.video == files["video"] and missing_media(back) == []


def test_missing_media_are_listed_and_relinked_from_a_folder(tmp_path: Path) -> None:
    files = _media(tmp_path)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(_doc(files), path)
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "sfx", moved / "library" / "sfx")
    (moved / "decoy" / "x").mkdir(parents=True)
    (moved / "decoy" / "x" / "step.wav").write_bytes(b"RIFF")  # same name, wrong folder
    doc = load_project(path)
    missing = missing_media(doc)
    assert sorted(p.name for p in missing) == ["door ö.wav", "step.wav"]
    mapping = find_relinks(missing, moved)
    assert mapping[files["door"]] == moved / "library" / "sfx" / "doors" / "door ö.wav"
    assert mapping[files["step"]] == moved / "library" / "sfx" / "steps" / "step.wav"
    relink = RelinkMedia(mapping)
    relink.do(doc)
    assert missing_media(doc) == [] and doc.dirty
    relink.undo(doc)
    assert len(missing_media(doc)) == 2


def test_failed_replace_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _media(tmp_path)
    doc = _doc(files)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(doc, path)
    old = path.read_bytes()
    MoveClip("c1", 9.0).do(doc)

    def crash(*args, **kwargs):
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ProjectError, match="previous file is unchanged"):
        save_project(doc, path)
    assert path.read_bytes() == old and doc.dirty
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp left behind


def test_full_disk_gives_a_clear_message_and_no_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _media(tmp_path)
    doc = _doc(files)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(doc, path)
    old = path.read_bytes()
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(ProjectError, match="disk is full"):
        save_project(doc, path)
    assert path.read_bytes() == old
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


_SAVER = r"""
import sys
from pathlib import Path
from foley_app.core.commands import AddClip, AddTrack
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import save_project
path = Path(sys.argv[1])
doc = Document()
AddTrack("T").do(doc)
print("ready", flush=True)
i = 0
while True:
    i += 1
    AddClip(doc.tracks[0].id, Clip(f"c{i}", Path(f"/sfx/{i}.wav"), 0.0, 1.0, float(i))).do(doc)
    save_project(doc, path)
"""


def test_killing_a_saver_never_leaves_a_broken_project(tmp_path: Path) -> None:
    path = tmp_path / "p.foley"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    counts = []
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55, 0.08):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, env=env,
                                cwd=tmp_path)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if path.exists():
            doc = load_project(path)  # raises if half-written
            counts.append(doc.clip_count())
            assert [c.id for c in doc.tracks[0].clips] == [f"c{i}" for i in range(1, doc.clip_count() + 1)]
    assert counts and max(counts) > 1  # the saver really was overwriting the file when killed


def _valid() -> dict:
    return {"format": "foley-assistant-project", "version": 1, "video": None, "tracks": [
        {"id": "t1", "name": "T", "volume_db": 0.0, "mute": False, "solo": False, "clips": [
            {"id": "c1", "sound": "a.wav", "source_start": 0.0, "source_end": 1.0, "position": 2.0, "gain_db": 0.0}]}]}


def _set(path: str, value):
    def edit(d: dict) -> dict:
        keys = path.split(".")
        obj = d
        for k in keys[:-1]:
            obj = obj[int(k)] if isinstance(obj, list) else obj[k]
        last = keys[-1]
        if value is _DELETE:
            del obj[last]
        elif isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value
        return d
    return edit


_DELETE = object()
CLIP = "tracks.0.clips.0"

HOSTILE = [
    (_set("format", "something-else"), "not a Foley Assistant project"),
    (_set("format", _DELETE), "format: required key is missing"),
    (_set("version", 3), "newer Foley Assistant"),
    (_set("version", "1"), "version: must be a whole number"),
    (_set("version", 0), "not a valid project version"),
    (_set("tracks", {"a": 1}), "tracks: must be a list, got object"),
    (_set("tracks.0", [1, 2]), "tracks[0]: must be an object, got list"),
    (_set("tracks.0.id", _DELETE), "tracks[0].id: required key is missing"),
    (_set("tracks.0.id", ""), "tracks[0].id: must not be empty"),
    (_set("tracks.0.mute", 1), "tracks[0].mute: must be true or false"),
    (_set("tracks.0.volume_db", 1e308), "tracks[0].volume_db: must be between -96 and 24 dB"),
    (_set("tracks.0.name", 5), "tracks[0].name: must be text, got number"),
    (_set("tracks.0.name", "x" * 5000), "text longer than"),
    (_set(f"{CLIP}.sound", None), "sound: must be text, got null"),
    (_set(f"{CLIP}.sound", ["a.wav"]), "sound: must be text, got list"),
    (_set(f"{CLIP}.sound", "a\x00.wav"), "NUL character"),
    (_set(f"{CLIP}.sound", _DELETE), "tracks[0].clips[0].sound: required key is missing"),
    (_set(f"{CLIP}.position", -1), "position: must be between 0 and"),
    (_set(f"{CLIP}.position", 1e308), "position: must be between 0 and"),
    (_set(f"{CLIP}.position", "2"), "position: must be a number, got text"),
    (_set(f"{CLIP}.position", True), "position: must be a number, got true/false"),
    (_set(f"{CLIP}.source_end", 0.0), "negative or zero length"),
    (_set(f"{CLIP}.source_start", 10**400), "source_start: must be between"),
    (_set(f"{CLIP}.gain_db", 500), "gain_db: must be between -96 and 24 dB"),
    (_set(f"{CLIP}.sound_duration", -5), "sound_duration: must be between"),
    (_set(f"{CLIP}.id", "t1"), "'t1' is used twice"),
    (_set("tracks", [{"id": f"t{i}", "clips": []} for i in range(300)]), "more than the 256 allowed"),
    (_set("tracks.0.clips", [{}] * 100_001), "more than the 100000 allowed"),
    (_set("sample_rate", 1e9), "sample_rate: must be between"),
]


@pytest.mark.parametrize("edit,message", HOSTILE, ids=[m for _, m in HOSTILE])
def test_hostile_json_is_rejected_with_the_key_and_problem(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "bad.foley"
    path.write_text(json.dumps(edit(_valid())), encoding="utf-8")
    with pytest.raises(ProjectError) as info:
        load_project(path)
    assert message in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("text,message", [
    ("[1, 2, 3]", "top level must be a JSON object, got list"),
    ('"hello"', "top level must be a JSON object, got text"),
    ("", "not valid JSON"),
    ('{"format": "foley-assistant-project", "version": 1, "tracks": [', "not valid JSON"),
    (json.dumps(_valid()).replace('"position": 2.0', '"position": NaN'), "contains NaN"),
    (json.dumps(_valid()).replace('"position": 2.0', '"position": Infinity'), "contains Infinity"),
    (json.dumps(_valid()).replace('"position": 2.0', '"position": 1e999'), "must be a finite number"),
    (json.dumps(_valid()).replace('"position": 2.0', '"position": ' + "9" * 5000), "unreadable number"),
    ('{"a": 1, "a": 2}', "key 'a' appears twice"),
    ("[" * 100_000 + "]" * 100_000, "nested far too deeply"),
])
def test_malformed_files_are_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.foley"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_project(path)


def test_unreadable_files_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProjectError, match="not found"):
        load_project(tmp_path / "none.foley")
    with pytest.raises(ProjectError, match="is a folder"):
        load_project(tmp_path)
    (tmp_path / "bin.foley").write_bytes(b"\xff\xfe\x00garbage\x9c")
    with pytest.raises(ProjectError, match="not UTF-8"):
        load_project(tmp_path / "bin.foley")
    monkeypatch.setattr(project_reader, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.foley").write_text(json.dumps(_valid()), encoding="utf-8")
    with pytest.raises(ProjectError, match="too large"):
        load_project(tmp_path / "big.foley")


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)
_FIELDS = ["format", "version", "video", "tracks", "tracks.0", "tracks.0.id", "tracks.0.clips", "tracks.0.volume_db",
           f"{CLIP}", f"{CLIP}.sound", f"{CLIP}.position", f"{CLIP}.source_start", f"{CLIP}.source_end",
           f"{CLIP}.gain_db", f"{CLIP}.name", f"{CLIP}.sound_duration"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(_FIELDS), value=_json)
def test_fuzzed_fields_load_or_raise_project_error(tmp_path: Path, field: str, value) -> None:
    path = tmp_path / "fuzz.foley"
    path.write_text(json.dumps(_set(field, value)(_valid())), encoding="utf-8")
    try:
        doc = load_project(path)
    except ProjectError as exc:
        assert str(exc)
    else:
        for _, clip in doc.clips():
            assert clip.source_end > clip.source_start >= 0 and clip.position >= 0


def test_autosave_recovery_after_a_crash(tmp_path: Path) -> None:
    files = _media(tmp_path)
    doc = _doc(files)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(doc, path)
    assert find_recovery(path) is None
    SetClipGain("c1", -20.0).do(doc)
    time.sleep(0.01)
    auto = write_autosave(doc)
    assert auto == sidecar_path(path) == path.with_name("scene.foley.autosave.json")
    assert doc.dirty and doc.path == path
    assert find_recovery(path) == auto
    back = load_project(auto)
    assert back.state() == doc.state() and back.path == path and back.dirty
    save_project(back, path)  # saving the recovered work retires the autosave
    assert not auto.exists() and find_recovery(path) is None


def test_an_older_autosave_is_not_offered(tmp_path: Path) -> None:
    files = _media(tmp_path)
    doc = _doc(files)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(doc, path)
    auto = write_autosave(doc)
    os.utime(auto, ns=(path.stat().st_mtime_ns - 10**9,) * 2)
    assert find_recovery(path) is None


def test_untitled_documents_autosave_to_the_user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autosave_io, "untitled_autosave_dir", lambda: tmp_path / "autosave")
    files = _media(tmp_path)
    doc = _doc(files)
    doc.path = None
    auto = write_autosave(doc)
    assert auto.parent == tmp_path / "autosave" and auto == autosave_path(doc)
    assert project_io.untitled_autosaves(tmp_path / "autosave") == [auto]
    back = load_project(auto)
    assert back.path is None and back.dirty and back.state() == doc.state()
    save_project(back, tmp_path / "project" / "named.foley.json")  # first save removes the untitled autosave
    assert not auto.exists()


def test_a_second_window_saving_is_detected(tmp_path: Path) -> None:
    files = _media(tmp_path)
    path = tmp_path / "project" / "scene.foley.json"
    save_project(_doc(files), path)
    one, two = load_project(path), load_project(path)
    assert not changed_on_disk(one)
    MoveClip("c1", 4.0).do(two)
    time.sleep(0.01)
    save_project(two, path)
    assert changed_on_disk(one) and not changed_on_disk(two)


def test_absolute_and_parent_paths_are_only_data(tmp_path: Path) -> None:
    """``..`` and absolute paths are legitimate (media next to or far from the project): the loader
    resolves them and checks existence, it never opens them; what is not there is reported."""
    data = _valid()
    data["video"] = "/nonexistent/root/video.mp4"
    data["tracks"][0]["clips"][0]["sound"] = "../../../../../../etc/passwd"
    path = tmp_path / "deep" / "p.foley.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data), encoding="utf-8")
    doc = load_project(path)
    assert doc.video == Path("/nonexistent/root/video.mp4")
    assert doc.find_clip("c1")[1].sound_path == Path("/etc/passwd")
    assert missing_media(doc) == [Path("/nonexistent/root/video.mp4")]
