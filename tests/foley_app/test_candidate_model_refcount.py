"""The candidate model never hands None to QModelIndex.data() for a role the list delegate paints."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.api import Candidate
from foley_app.widgets.candidate_model import CandidateListModel, Role


def test_painted_roles_never_return_none_and_keep_none_alive(qapp) -> None:
    model = CandidateListModel()
    c = Candidate(sound_id=1, path=Path("/lib/a.wav"), name="a", category="", start_s=0.0, distance=0.5, score=0.75, duration_s=1.0)
    model.set_candidates([c])
    idx = model.index(0)
    roles = [Role.Rank, Role.Peaks, Role.Path, Role.Start, Role.Duration, Role.Score, Role.Name, Role.Category, Role.Candidate]
    assert all(idx.data(r) is not None for r in roles)
    assert len(idx.data(Role.Peaks)) == 0  # no mini waveform yet: empty, not None
    before = sys.getrefcount(None)
    for _ in range(2000):
        for r in roles:
            idx.data(r)
    assert sys.getrefcount(None) >= before - 50  # the PySide6 6.12 bug drops one reference per None result
