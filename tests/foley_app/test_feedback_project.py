"""The designer's choices in the document and the project file (format version 2; version 1 loads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foley_app.core.commands import AddClip, AddTrack, RemoveClip
from foley_app.core.document import Clip, Document, DocumentError, FeedbackChoice
from foley_app.core.project_io import VERSION, ProjectError, load_project, save_project


def _doc(tmp_path: Path) -> tuple[Document, Path]:
    sound = tmp_path / "sfx" / "hit.wav"
    sound.parent.mkdir(parents=True)
    sound.write_bytes(b"RIFF")
    doc = Document(video=tmp_path / "scene.mp4")
    AddTrack("Foley").do(doc)
    AddClip(doc.tracks[0].id, Clip("c1", sound, 0.0, 0.5, 3.0)).do(doc)
    return doc, sound


def test_choices_round_trip_and_make_the_project_dirty(tmp_path: Path) -> None:
    doc, sound = _doc(tmp_path)
    path = tmp_path / "p" / "scene.foley.json"
    path.parent.mkdir()
    save_project(doc, path)
    assert not doc.dirty
    doc.add_feedback(FeedbackChoice("place", 3.2, sound, 0.5, "c1"))
    assert doc.dirty
    doc.add_feedback(FeedbackChoice("reject", 7.9, tmp_path / "sfx" / "other.wav", 1.0))
    doc.set_feedback_enabled(False)
    save_project(doc, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == VERSION == 2
    assert data["feedback"]["enabled"] is False
    assert data["feedback"]["choices"][0] == {"kind": "place", "time": 3.2, "sound": "../sfx/hit.wav", "offset": 0.5, "clip": "c1"}
    back = load_project(path)
    assert back.feedback == doc.feedback and back.feedback_enabled is False
    assert back.feedback[1].second == 7 and back.state() == doc.state()
    back.clear_feedback()
    assert back.dirty and back.feedback == []


def test_a_placement_counts_only_while_its_clip_is_placed(tmp_path: Path, qapp) -> None:
    from PySide6.QtGui import QUndoStack

    from foley_app.undo import push

    doc, sound = _doc(tmp_path)
    doc.add_feedback(FeedbackChoice("place", 3.0, sound, 0.0, "c1"))
    doc.add_feedback(FeedbackChoice("reject", 4.0, sound, 0.0))
    assert [f.kind for f in doc.active_feedback()] == ["place", "reject"]
    stack = QUndoStack()  # the app's undo history
    push(stack, doc, RemoveClip("c1"))
    assert [f.kind for f in doc.active_feedback()] == ["reject"]
    stack.undo()  # the clip is back, and so is its vote
    assert [f.kind for f in doc.active_feedback()] == ["place", "reject"]
    stack.redo()
    assert [f.kind for f in doc.active_feedback()] == ["reject"]
    path = tmp_path / "gone.foley.json"
    save_project(doc, path)
    assert [f.kind for f in load_project(path).feedback] == ["reject"]


def test_a_version_1_project_loads_with_no_choices_and_learning_on(tmp_path: Path) -> None:
    old = {"format": "foley-assistant-project", "version": 1, "video": None, "tracks": [
        {"id": "t1", "name": "T", "clips": [{"id": "c1", "sound": "a.wav", "source_start": 0.0, "source_end": 1.0, "position": 2.0}]}],
        "feedback": {"enabled": False, "choices": [{"kind": "place", "time": 1.0, "sound": "a.wav"}]}}  # ignored in v1
    path = tmp_path / "old.foley.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    doc = load_project(path)
    assert doc.feedback == [] and doc.feedback_enabled is True and doc.clip_count() == 1 and not doc.dirty


@pytest.mark.parametrize(("choice", "needle"), [
    ({"kind": "love", "time": 1.0, "sound": "a.wav"}, "feedback.choices[0].kind"),
    ({"kind": "place", "time": -1.0, "sound": "a.wav"}, "feedback.choices[0].time"),
    ({"kind": "place", "time": 1.0}, "feedback.choices[0].sound"),
    ({"kind": "reject", "time": 1.0, "sound": "a.wav", "offset": "x"}, "feedback.choices[0].offset"),
])
def test_bad_choices_name_the_key(tmp_path: Path, choice: dict, needle: str) -> None:
    data = {"format": "foley-assistant-project", "version": 2, "tracks": [], "feedback": {"choices": [choice]}}
    path = tmp_path / "bad.foley.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProjectError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_project(path)


def test_the_document_refuses_bad_choices(tmp_path: Path) -> None:
    doc = Document()
    with pytest.raises(DocumentError, match="kind"):
        doc.add_feedback(FeedbackChoice("maybe", 1.0, tmp_path / "a.wav"))
    with pytest.raises(DocumentError, match="time"):
        doc.add_feedback(FeedbackChoice("place", float("nan"), tmp_path / "a.wav"))
    assert doc.feedback == [] and not doc.dirty
