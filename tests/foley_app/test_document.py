"""The timeline document and its commands: every command undoes and redoes exactly on the app's undo stack
(``QUndoStack`` through ``foley_app.undo.push``); bad edits change nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PySide6.QtGui import QUndoStack

from foley_app.core import commands as cmds
from foley_app.core.commands import AddClip
from foley_app.core.document import MAX_DB, MIN_CLIP_S, Change, Clip, Document, DocumentError, Track
from foley_app.core.onset import first_transient
from foley_app.undo import push


def _doc() -> Document:
    doc = Document(video=Path("/media/scene.mp4"))
    cmds.AddTrack("Foley").do(doc)
    cmds.AddTrack("Ambience").do(doc)
    a, b = doc.tracks
    AddClip(a.id, Clip("c1", Path("/sfx/door.wav"), 0.25, 1.25, 2.0, -3.0, "door", "DOORS", 2.0)).do(doc)
    AddClip(a.id, Clip("c2", Path("/sfx/step.wav"), 0.0, 0.5, 5.0, 0.0, "step", "FOOTSTEPS", 0.5)).do(doc)
    AddClip(b.id, Clip("c3", Path("/sfx/rain.wav"), 1.0, 9.0, 0.0, -12.0, "rain", "RAIN", None)).do(doc)
    doc.dirty = False
    return doc


@pytest.fixture
def stack(qapp) -> QUndoStack:
    """An empty undo stack, as the app's timeline keeps one."""
    return QUndoStack()


def _undo(stack: QUndoStack) -> bool:
    """Undo one step; False when there was nothing to undo."""
    if not stack.canUndo():
        return False
    stack.undo()
    return True


def _redo(stack: QUndoStack) -> bool:
    """Redo one step; False when there was nothing to redo."""
    if not stack.canRedo():
        return False
    stack.redo()
    return True


def _t(doc: Document, i: int) -> str:
    return doc.tracks[i].id


EDITS = {
    "add_clip": lambda d: AddClip(_t(d, 1), Clip("c9", Path("/sfx/x.wav"), 0.0, 1.0, 3.0)),
    "add_clip_at_drop": lambda d: AddClip.at_drop(_t(d, 0), Path("/sfx/x.wav"), 4.0, 0.0, 1.0, onset_s=0.3),
    "remove_clip": lambda d: cmds.RemoveClip("c1"),
    "move_clip": lambda d: cmds.MoveClip("c1", 7.5),
    "move_clip_across_tracks": lambda d: cmds.MoveClip("c1", 1.0, _t(d, 1)),
    "trim_start": lambda d: cmds.TrimClip("c1", "start", 2.4),
    "trim_end": lambda d: cmds.TrimClip("c1", "end", 2.7),
    "clip_gain": lambda d: cmds.SetClipGain("c2", -7.25),
    "clip_name": lambda d: cmds.SetClipName("c2", "heel"),
    "add_track": lambda d: cmds.AddTrack("New", index=0),
    "remove_track": lambda d: cmds.RemoveTrack(_t(d, 0)),
    "rename_track": lambda d: cmds.RenameTrack(_t(d, 0), "Feet"),
    "track_volume": lambda d: cmds.SetTrackVolume(_t(d, 1), -4.5),
    "track_mute": lambda d: cmds.SetTrackMute(_t(d, 0), True),
    "track_solo": lambda d: cmds.SetTrackSolo(_t(d, 1), True),
    "set_video": lambda d: cmds.SetVideo(Path("/media/other.mov")),
    "relink": lambda d: cmds.RelinkMedia({Path("/sfx/door.wav"): Path("/new/door.wav"),
                                          Path("/media/scene.mp4"): Path("/new/scene.mp4")}),
    "macro": lambda d: cmds.Macro("Delete 2 clips", [cmds.RemoveClip("c1"), cmds.RemoveClip("c3")]),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_every_command_undoes_and_redoes_exactly(name: str, stack: QUndoStack) -> None:
    doc = _doc()
    before = doc.state()
    cmd = EDITS[name](doc)
    push(stack, doc, cmd)
    after = doc.state()
    assert after != before, f"{name} changed nothing"
    assert doc.dirty and stack.undoText() == cmd.text and cmd.text
    assert _undo(stack) and doc.state() == before and not doc.dirty
    assert _redo(stack) and doc.state() == after
    for _ in range(3):  # repeated cycles stay exact (no drift in floats)
        _undo(stack)
        _redo(stack)
    assert doc.state() == after
    assert _undo(stack) and doc.state() == before
    assert not stack.canRedo() or stack.redoText() == cmd.text


def test_clips_stay_sorted_and_move_between_tracks(stack: QUndoStack) -> None:
    doc = _doc()
    a, b = doc.tracks
    push(stack, doc, cmds.MoveClip("c2", 0.5))
    assert [c.id for c in a.clips] == ["c2", "c1"]
    push(stack, doc, cmds.MoveClip("c1", 3.0, b.id))
    assert [c.id for c in a.clips] == ["c2"] and [c.id for c in b.clips] == ["c3", "c1"]
    assert b.clip("c1").position == 3.0
    _undo(stack)
    assert [c.id for c in a.clips] == ["c2", "c1"] and a.clip("c1").position == 2.0


def test_trim_keeps_samples_anchored_to_the_timeline(stack: QUndoStack) -> None:
    doc = _doc()
    _, clip = doc.find_clip("c1")  # source 0.25..1.25 at 2.0
    source_at = {t: clip.source_start + (t - clip.position) for t in (2.5, 2.9)}
    push(stack, doc, cmds.TrimClip("c1", "start", 2.4))
    assert math.isclose(clip.position, 2.4) and math.isclose(clip.source_start, 0.65) and clip.source_end == 1.25
    push(stack, doc, cmds.TrimClip("c1", "end", 2.95))
    assert math.isclose(clip.source_end, 1.25 - 0.05) and math.isclose(clip.end, 2.95)
    for t, s in source_at.items():
        assert math.isclose(clip.source_start + (t - clip.position), s)


def test_trim_clamps_at_the_sounds_limits(stack: QUndoStack) -> None:
    doc = _doc()
    _, clip = doc.find_clip("c1")  # file is 2.0 s long; source 0.25..1.25 at 2.0
    push(stack, doc, cmds.TrimClip("c1", "start", 0.0))  # cannot reveal audio before the file start
    assert clip.source_start == 0.0 and math.isclose(clip.position, 1.75)
    push(stack, doc, cmds.TrimClip("c1", "end", 100.0))  # nor after its end
    assert math.isclose(clip.source_end, 2.0)
    push(stack, doc, cmds.TrimClip("c1", "start", 50.0))  # never shorter than MIN_CLIP_S
    assert math.isclose(clip.duration, MIN_CLIP_S)


def test_drag_commands_merge_into_one_undo_step(stack: QUndoStack) -> None:
    doc = _doc()
    _, clip = doc.find_clip("c1")
    for x in (2.1, 2.2, 2.3):
        push(stack, doc, cmds.MoveClip("c1", x, drag_id=7))
    push(stack, doc, cmds.MoveClip("c1", 4.0, drag_id=8))  # a new gesture is its own step
    for g in (-1.0, -2.0, -3.0):
        push(stack, doc, cmds.SetClipGain("c1", g, drag_id=9))
    assert clip.position == 4.0 and clip.gain_db == -3.0
    assert _undo(stack) and clip.gain_db == -3.0 and clip.position == 4.0
    assert _undo(stack) and clip.position == 2.3
    assert _undo(stack) and clip.position == 2.0 and not stack.canUndo()
    assert _redo(stack) and clip.position == 2.3


def test_drag_trim_merges_and_undoes_to_the_start(stack: QUndoStack) -> None:
    doc = _doc()
    _, clip = doc.find_clip("c1")
    for t in (2.1, 2.3, 2.2):
        push(stack, doc, cmds.TrimClip("c1", "start", t, drag_id=1))
    assert math.isclose(clip.position, 2.2) and math.isclose(clip.source_start, 0.45)
    _undo(stack)
    assert (clip.position, clip.source_start) == (2.0, 0.25) and not stack.canUndo()


def test_commands_without_drag_never_merge(stack: QUndoStack) -> None:
    doc = _doc()
    push(stack, doc, cmds.MoveClip("c1", 3.0))
    push(stack, doc, cmds.MoveClip("c1", 4.0))
    assert cmds.MoveClip("c1", 1.0).merge_id == -1 and cmds.MoveClip("c1", 1.0, drag_id=3).merge_id > 0
    _undo(stack)
    assert doc.find_clip("c1")[1].position == 3.0


@pytest.mark.parametrize("make", [
    lambda d: cmds.MoveClip("c1", float("nan")),
    lambda d: cmds.MoveClip("c1", -1.0),
    lambda d: cmds.MoveClip("c1", 1e308),
    lambda d: cmds.MoveClip("nope", 1.0),
    lambda d: cmds.MoveClip("c1", 1.0, "no-track"),
    lambda d: AddClip(_t(d, 0), Clip("c1", Path("/x.wav"), 0.0, 1.0, 0.0)),  # duplicate id
    lambda d: AddClip(_t(d, 0), Clip("n1", Path("/x.wav"), 1.0, 0.5, 0.0)),  # negative length
    lambda d: AddClip(_t(d, 0), Clip("n2", Path("/x.wav"), 0.0, 1.0, float("inf"))),
    lambda d: AddClip(_t(d, 0), Clip("n3", "/x.wav", 0.0, 1.0, 0.0)),  # not a Path
    lambda d: AddClip("no-track", Clip("n4", Path("/x.wav"), 0.0, 1.0, 0.0)),
    lambda d: cmds.TrimClip("c1", "start", float("nan")),
    lambda d: cmds.RemoveTrack("no-track"),
])
def test_invalid_edits_raise_and_change_nothing(make, stack: QUndoStack) -> None:
    doc = _doc()
    before = doc.state()
    with pytest.raises(DocumentError):
        push(stack, doc, make(doc))
    assert doc.state() == before and not stack.canUndo() and not doc.dirty


@pytest.mark.parametrize("value", [float("nan"), 1e308, MAX_DB + 0.1, -200.0, True, "3"])
def test_bad_levels_are_rejected_when_the_command_is_made(value) -> None:
    with pytest.raises(DocumentError):
        cmds.SetClipGain("c1", value)
    with pytest.raises(DocumentError):
        cmds.SetTrackVolume("t", value)


def test_trim_edge_must_be_start_or_end() -> None:
    with pytest.raises(DocumentError, match="start' or 'end"):
        cmds.TrimClip("c1", "middle", 1.0)


def test_macro_is_all_or_nothing(stack: QUndoStack) -> None:
    doc = _doc()
    before = doc.state()
    with pytest.raises(DocumentError):
        push(stack, doc, cmds.Macro("bad", [cmds.RemoveClip("c1"), cmds.RemoveClip("missing")]))
    assert doc.state() == before


def test_listeners_hear_each_change_and_a_broken_one_is_isolated(stack: QUndoStack) -> None:
    doc = _doc()
    heard: list[Change] = []

    def broken(change: Change) -> None:
        raise RuntimeError("view bug")

    doc.add_listener(broken)
    doc.on_changed.append(heard.append)
    a, b = doc.tracks
    push(stack, doc, cmds.MoveClip("c1", 1.0, b.id))
    push(stack, doc, cmds.SetTrackMute(a.id, True))
    _undo(stack)
    assert heard == [Change("clip_removed", a.id, "c1"), Change("clip_added", b.id, "c1"),
                     Change("track_changed", a.id), Change("track_changed", a.id)]
    doc.remove_listener(broken)
    assert broken not in doc.listeners


def test_dirty_follows_the_saved_state(stack: QUndoStack) -> None:
    doc = _doc()
    assert not doc.dirty
    push(stack, doc, cmds.SetClipGain("c1", -1.0))
    assert doc.dirty
    _undo(stack)
    assert not doc.dirty
    doc.dirty = True
    assert doc.dirty


def test_mute_and_solo_like_a_daw() -> None:
    doc = Document(tracks=[Track(str(i), f"T{i}") for i in range(3)])
    t0, t1, t2 = doc.tracks
    assert all(doc.audible(t) for t in doc.tracks)
    t1.solo = True
    assert [doc.audible(t) for t in doc.tracks] == [False, True, False]
    t2.solo = t2.mute = True  # mute wins over solo
    assert [doc.audible(t) for t in doc.tracks] == [False, True, False]
    t1.solo = t2.solo = False
    assert [doc.audible(t) for t in doc.tracks] == [True, True, False]


def test_drop_snaps_the_onset_to_the_drop_time() -> None:
    import numpy as np

    wave = np.zeros(48_000, np.float32)
    wave[int(0.2 * 48_000)] = 1.0
    onset = first_transient(wave, 48_000)
    cmd = AddClip.at_drop("t", Path("/x.wav"), 3.0, 0.0, 1.0, onset_s=onset, name="hit")
    assert math.isclose(cmd.clip.position + onset, 3.0) and cmd.clip.source_start == 0.0
    early = AddClip.at_drop("t", Path("/x.wav"), 0.05, 0.0, 1.0, onset_s=onset)  # onset would need t < 0
    assert early.clip.position == 0.0 and math.isclose(early.clip.source_start, 0.15)
    assert math.isclose(early.clip.position + (0.2 - early.clip.source_start), 0.05)
    with pytest.raises(DocumentError):
        AddClip.at_drop("t", Path("/x.wav"), 0.0, 0.0, 1.0, onset_s=1.0)


def test_copy_is_independent_and_without_listeners(stack: QUndoStack) -> None:
    doc = _doc()
    snap = doc.copy()
    push(stack, doc, cmds.MoveClip("c1", 9.0))
    assert snap.find_clip("c1")[1].position == 2.0 and snap.listeners == []
    assert snap.video == doc.video and len(snap.tracks) == 2


def test_limits_on_tracks(monkeypatch: pytest.MonkeyPatch, stack: QUndoStack) -> None:
    monkeypatch.setattr(cmds, "MAX_TRACKS", 3)
    doc = _doc()
    push(stack, doc, cmds.AddTrack())
    with pytest.raises(DocumentError, match="at most 3 tracks"):
        push(stack, doc, cmds.AddTrack())
    assert doc.tracks[-1].name == "Track 3"
