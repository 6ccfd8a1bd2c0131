"""The project file format: versioned JSON with relative media paths, and its limits.

File layout (``version`` 2)::

    {"format": "foley-assistant-project", "version": 2, "app_version": "0.1.0",
     "saved_at": "2026-01-01T12:00:00Z", "origin": "/abs/folder/of/the/project/when/saved",
     "sample_rate": 48000, "video": "media/scene.mp4" | null,
     "tracks": [{"id": "...", "name": "Track 1", "volume_db": 0.0, "mute": false, "solo": false,
                 "clips": [{"id": "...", "sound": "../sfx/door.wav", "source_start": 0.0,
                            "source_end": 1.2, "position": 3.5, "gain_db": -3.0, "name": "door",
                            "category": "DOORS", "sound_duration": 2.0}]}],
     "feedback": {"enabled": true,
                  "choices": [{"kind": "place", "time": 3.5, "sound": "../sfx/door.wav", "offset": 0.0,
                               "clip": "..."}, {"kind": "reject", "time": 7.2, "sound": "...", "offset": 1.0}]},
     "prior_weight": 1.5 | null}

``feedback`` (new in version 2) holds the designer's choices the ranking learns from
(``FeedbackChoice``); a version-1 project loads with none, learning on. ``prior_weight``
(optional, added within version 2) is the list's common <-> specific dial: the weight of the
sound prior in the ranking, ``null`` or absent = the model's default.

Media paths are stored relative to the project file's folder (forward slashes; ``..`` allowed,
so a project can sit next to its media) and are absolute only when no relative path exists
(another drive on Windows). On load, a relative path that does not resolve next to the project
is also tried against ``origin`` (where the project was saved), so a project file moved on its
own still finds its media; what cannot be found is reported by ``missing_media`` (and can be
relinked with ``find_relinks`` + ``RelinkMedia``), never an error.

Anything else wrong (not JSON, wrong types, missing keys, NaN/Infinity, numbers out of range,
too many tracks/clips, duplicate keys or ids, a newer format version) raises ``ProjectError``
naming the key and the problem, e.g. ``tracks[0].clips[2].gain_db: must be between -96 and 24 dB``.
"""

from __future__ import annotations

from foley_app.core.document import DocumentError

FORMAT = "foley-assistant-project"
VERSION = 2  # 2: "feedback" (the designer's choices); version 1 files still load
PROJECT_SUFFIX = ".foley.json"  # any name loads; this is what the app suggests
AUTOSAVE_SUFFIX = ".autosave.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PATH_CHARS = 4096
MAX_ID_CHARS = 64


class ProjectError(DocumentError):
    """A project file cannot be read or written; the message names the key or the reason."""
