"""The timeline as OpenTimelineIO: the video track, one audio track per lane of clips, a marker per cue."""

from __future__ import annotations

import os
from pathlib import Path

from foley_app.core.document import Clip, Document
from foley_app.core.export.cues import cue_order
from foley_app.core.export.session import Session, session_of
from foley_app.core.export.text_file import write_text
from foley_app.core.mix import clip_samples, video_duration


def _lanes(clips: list[Clip], sr: int) -> list[list[Clip]]:
    """Split overlapping clips into as few non-overlapping lanes as possible (OTIO tracks are sequential)."""
    lanes: list[list[Clip]] = []
    ends: list[int] = []
    for clip in sorted(clips, key=lambda c: (c.position, c.id)):
        start, _, count = clip_samples(clip, sr)
        for i, end in enumerate(ends):
            if start >= end:
                lanes[i].append(clip)
                ends[i] = start + count
                break
        else:
            lanes.append([clip])
            ends.append(start + count)
    return lanes or [[]]


def _uri(path: Path) -> str:
    return Path(os.path.abspath(path)).as_uri()


def build_otio(doc: Document, fps: float | None = None, sr: int = 48_000,
               session: Session | None = None):  # -> otio.schema.Timeline
    """An OTIO timeline: the video track (if any), then one audio track per timeline track.

    Audio times are in samples (rate ``sr``) so they are exact; overlapping clips on one track
    go to extra tracks named "<track> (2)", ...; muted or solo-silenced tracks are disabled.
    Clip gain, category and ids are in each clip's ``metadata["foley_assistant"]``. Every cue
    (clip, numbered as in the cue sheet) is also a marker on the timeline's stack, spanning the
    clip, named ``<cue> <clip>`` and carrying its track and timecode; the timeline starts at the
    video's start timecode (``session``).
    """
    import opentimelineio as otio

    def rt(samples: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(samples, sr)

    session = session or session_of(doc, fps=fps)
    fps = session.fps
    timeline = otio.schema.Timeline(name=session.project if doc.path is not None else "Foley Assistant")
    timeline.global_start_time = otio.opentime.RationalTime(session.time_reference(sr), sr)
    if doc.video is not None:
        duration = video_duration(doc) or 0.0
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                      otio.opentime.RationalTime(round(duration * fps), fps))
        vtrack = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
        ref = otio.schema.ExternalReference(target_url=_uri(doc.video), available_range=rng)
        vtrack.append(otio.schema.Clip(name=Path(doc.video).name, media_reference=ref, source_range=rng))
        timeline.tracks.append(vtrack)
    for track in doc.tracks:
        lanes = _lanes(track.clips, sr)
        for li, lane in enumerate(lanes):
            otrack = otio.schema.Track(name=track.name if li == 0 else f"{track.name} ({li + 1})",
                                       kind=otio.schema.TrackKind.Audio)
            otrack.enabled = doc.audible(track)
            otrack.metadata["foley_assistant"] = {"track_id": track.id, "volume_db": track.volume_db,
                                                  "mute": track.mute, "solo": track.solo}
            cursor = 0
            for clip in lane:
                start, s0, count = clip_samples(clip, sr)
                if start > cursor:
                    otrack.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(start - cursor))))
                available = None
                if clip.sound_duration is not None:
                    available = otio.opentime.TimeRange(rt(0), rt(int(round(clip.sound_duration * sr))))
                ref = otio.schema.ExternalReference(target_url=_uri(clip.sound_path), available_range=available)
                oclip = otio.schema.Clip(name=clip.display_name, media_reference=ref,
                                         source_range=otio.opentime.TimeRange(rt(s0), rt(count)))
                oclip.metadata["foley_assistant"] = {"clip_id": clip.id, "gain_db": clip.gain_db,
                                                     "category": clip.category}
                otrack.append(oclip)
                cursor = start + count
            timeline.tracks.append(otrack)
    for n, (track, clip) in enumerate(cue_order(doc), 1):
        start, _, count = clip_samples(clip, sr)
        marker = otio.schema.Marker(name=f"{n} {clip.display_name}",
                                    marked_range=otio.opentime.TimeRange(rt(start), rt(count)),
                                    color=otio.schema.MarkerColor.GREEN if doc.audible(track) else otio.schema.MarkerColor.RED)
        marker.metadata["foley_assistant"] = {"cue": n, "track": track.name, "clip_id": clip.id,
                                              "category": clip.category, "timecode_in": session.timecode(clip.position),
                                              "timecode_out": session.timecode(clip.end), "audible": doc.audible(track)}
        timeline.tracks.markers.append(marker)
    return timeline


def export_otio(doc: Document, path: Path | str, fps: float | None = None, session: Session | None = None) -> Path:
    """Write the timeline as OpenTimelineIO JSON (``.otio``), see ``build_otio``."""
    import opentimelineio as otio

    path = Path(path)
    text = otio.adapters.write_to_string(build_otio(doc, fps, session=session), "otio_json")
    write_text(path, text)
    return path
