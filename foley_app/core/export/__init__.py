"""Export a timeline: a Broadcast WAV of the mix, per-track stems, the video with the mix as its sound,
OpenTimelineIO (with a marker per cue) and a CSV cue sheet.

One module per file kind, all built on the mix (``foley_app.core.mix``) and on the ``Session``
(names and timecode the files carry):

- ``wav``: ``export_wav`` (the mix), ``export_stems`` (one file per track), via ``bwf``;
- ``mp4``: ``export_video``;
- ``otio``: ``build_otio``, ``export_otio``;
- ``cues``: ``cue_rows``, ``export_cue_csv``.

Every file is written to a temp file next to the target and renamed into place; a failure raises
``ExportError`` (one line) and leaves the target as it was. Exports run for seconds: call them
from a worker thread with ``doc.copy()`` taken on the GUI thread; pass ``progress(done, total)``
and a ``threading.Event`` as ``cancel``.
"""

from foley_app.core.errors import ExportCancelled, ExportError
from foley_app.core.export.cues import CUE_COLUMNS, cue_rows, export_cue_csv
from foley_app.core.export.mp4 import export_video
from foley_app.core.export.otio import build_otio, export_otio
from foley_app.core.export.session import Session, project_name, session_of
from foley_app.core.export.wav import export_stems, export_wav, stem_file_names
from foley_app.core.mix import MODES

__all__ = [
    "CUE_COLUMNS", "MODES", "ExportCancelled", "ExportError", "Session", "build_otio", "cue_rows", "export_cue_csv",
    "export_otio", "export_stems", "export_video", "export_wav", "project_name", "session_of", "stem_file_names",
]
