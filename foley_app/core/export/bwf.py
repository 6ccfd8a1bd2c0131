"""Broadcast WAV writer: PCM/float WAV (RF64 past 4 GB) with a ``bext`` and an ``iXML`` chunk.

A DAW spots a Broadcast WAV by its ``bext`` time reference (samples since midnight of the
timeline's timecode) and shows the ``iXML`` project, scene, take and track names. File layout::

    RIFF/RF64 <size> WAVE
      JUNK|ds64   28 bytes: room for RF64's 64-bit sizes (EBU Tech 3306), ds64 when the file is RF64
      fmt         PCM (format 1) or IEEE float (format 3, with a fact chunk)
      fact        float only: the number of sample frames
      bext        EBU Tech 3285 version 1: description, originator, reference, date, time,
                  time reference, UMID (zero), coding history
      data        interleaved little-endian samples
      iXML        UTF-8 XML (iXML 2.10 elements); after the data, where field recorders put it and
                  where libsndfile's RF64 reader (which stops at an unknown chunk before data) reads past it

Every chunk is padded to an even length. The file is written to a temp file next to the target,
fsynced and renamed into place (``atomic_path``): a failure or a kill leaves the old file as it was.
Samples are converted a block at a time, so a long mix needs no second full-size copy.
"""

from __future__ import annotations

import struct
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from engine.api import atomic_path

SUBTYPES = {"PCM_16": (1, 16), "PCM_24": (1, 24), "PCM_32": (1, 32), "FLOAT": (3, 32)}
RIFF_LIMIT = 0xFFFF_FFFF
_BLOCK_FRAMES = 1 << 18  # frames converted per write
_DS64_BYTES = 28


class BwfError(ValueError):
    """Bad arguments for a Broadcast WAV (nothing was written)."""


@dataclass
class Bext:
    """The ``bext`` fields a DAW reads (EBU Tech 3285); text is stored as ASCII, cut to the field size."""

    description: str = ""
    originator: str = ""
    originator_reference: str = field(default_factory=lambda: uuid.uuid4().hex)  # 32 characters
    origination_date: str = ""  # YYYY-MM-DD; empty: now (local time)
    origination_time: str = ""  # HH:MM:SS
    time_reference: int = 0  # samples since midnight of the first sample
    coding_history: str = ""

    def pack(self) -> bytes:
        now = time.localtime()
        date = self.origination_date or time.strftime("%Y-%m-%d", now)
        clock = self.origination_time or time.strftime("%H:%M:%S", now)
        if not 0 <= int(self.time_reference) < 1 << 64:
            raise BwfError(f"time reference must be between 0 and 2**64 - 1 samples, got {self.time_reference}")
        head = struct.pack("<256s32s32s10s8sQH64s190s", _ascii(self.description, 256), _ascii(self.originator, 32),
                           _ascii(self.originator_reference, 32), _ascii(date, 10), _ascii(clock, 8),
                           int(self.time_reference), 1, b"", b"")
        history = _ascii(self.coding_history, 1 << 16)
        return head + history + b"\x00" * (len(history) % 2)  # even size: no pad byte for readers to skip


def _ascii(text: str, size: int) -> bytes:
    """``text`` as ASCII (other characters become ``?``), at most ``size`` bytes (``struct`` pads with NULs)."""
    return text.encode("ascii", "replace")[:size]


def ixml(project: str, scene: str = "", take: str = "", tracks: list[str] | tuple[str, ...] = (), *,
         note: str = "", sample_rate: int = 48_000, bit_depth: int = 24, time_reference: int = 0,
         fps: tuple[int, int] | None = None, drop_frame: bool = False) -> str:
    """An iXML document (version 2.10 elements) naming the project, scene, take and each channel's track.

    ``fps`` is the picture rate as a fraction ``(num, den)``, e.g. ``(30000, 1001)``; it goes into
    ``SPEED/TIMECODE_RATE`` with the time stamp, so a DAW can show the file's timecode.
    """
    def el(tag: str, text: object) -> str:
        return f"<{tag}>{escape(str(text))}</{tag}>"

    speed = [el("FILE_SAMPLE_RATE", sample_rate), el("AUDIO_BIT_DEPTH", bit_depth),
             el("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI", time_reference >> 32),
             el("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO", time_reference & 0xFFFF_FFFF),
             el("TIMESTAMP_SAMPLE_RATE", sample_rate)]
    if fps is not None:
        speed[:0] = [el("MASTER_SPEED", "1/1"), el("CURRENT_SPEED", "1/1"), el("TIMECODE_RATE", f"{fps[0]}/{fps[1]}"),
                     el("TIMECODE_FLAG", "DF" if drop_frame else "NDF")]
    track_list = "".join(
        "<TRACK>" + el("CHANNEL_INDEX", i) + el("INTERLEAVE_INDEX", i) + el("NAME", name) + "</TRACK>"
        for i, name in enumerate(tracks, 1))
    body = (el("IXML_VERSION", "2.10") + el("PROJECT", project) + el("SCENE", scene) + el("TAKE", take)
            + (el("NOTE", note) if note else "") + "<SPEED>" + "".join(speed) + "</SPEED>"
            + "<TRACK_LIST>" + el("TRACK_COUNT", len(tracks)) + track_list + "</TRACK_LIST>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<BWFXML>{body}</BWFXML>\n'


def _chunk(tag: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def _encode(block: np.ndarray, subtype: str) -> bytes:
    """Float samples (nominal range -1..1) as little-endian PCM or float bytes; PCM is rounded and clipped."""
    if subtype == "FLOAT":
        return np.ascontiguousarray(block, "<f4").tobytes()
    bits = SUBTYPES[subtype][1]
    full = float(1 << (bits - 1))
    ints = np.clip(np.rint(block.astype(np.float64) * full), -full, full - 1)
    if bits == 16:
        return ints.astype("<i2").tobytes()
    ints = ints.astype("<i4")
    if bits == 32:
        return ints.tobytes()
    return ints.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()  # 24-bit: the low three bytes of each int32


def write_bwf(path: Path | str, data: np.ndarray, sample_rate: int, *, subtype: str = "PCM_24",
              bext: Bext | None = None, ixml_text: str | None = None, rf64: bool | None = None) -> Path:
    """Write ``data`` (``(n,)`` mono or ``(n, channels)`` float) as a Broadcast WAV, atomically.

    ``rf64=None`` switches to RF64 only when the file would pass 4 GB; ``True`` forces it.
    Raises ``BwfError`` for bad arguments (before anything is written) and ``OSError`` from the disk.
    """
    if subtype not in SUBTYPES:
        raise BwfError(f"unknown sample format {subtype!r}; choose from {', '.join(SUBTYPES)}")
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or not 1 <= data.shape[1] <= 64:
        raise BwfError(f"audio must be (samples,) or (samples, 1..64 channels), got shape {data.shape}")
    if not isinstance(sample_rate, (int, np.integer)) or not 1 <= sample_rate <= 768_000:
        raise BwfError(f"sample rate must be a whole number of Hz up to 768000, got {sample_rate!r}")
    fmt_tag, bits = SUBTYPES[subtype]
    frames, channels = data.shape
    block_align = channels * bits // 8
    data_bytes = frames * block_align
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sample_rate, sample_rate * block_align, block_align, bits)
    if fmt_tag == 3:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM formats carry it
    head_chunks = _chunk(b"fmt ", fmt)
    if fmt_tag == 3:
        head_chunks += _chunk(b"fact", struct.pack("<I", min(frames, RIFF_LIMIT)))
    if bext is not None:
        head_chunks += _chunk(b"bext", bext.pack())
    xml = ixml_text.encode("utf-8") if ixml_text is not None else b""
    tail_chunks = _chunk(b"iXML", xml + b" " * (len(xml) % 2)) if ixml_text is not None else b""
    pad = data_bytes % 2
    riff_size = 4 + 8 + _DS64_BYTES + len(head_chunks) + 8 + data_bytes + pad + len(tail_chunks)
    if rf64 is None:
        rf64 = riff_size > RIFF_LIMIT
    if rf64:
        header = b"RF64" + struct.pack("<I", RIFF_LIMIT) + b"WAVE"
        header += _chunk(b"ds64", struct.pack("<QQQI", riff_size, data_bytes, frames, 0))
        data_head = b"data" + struct.pack("<I", RIFF_LIMIT)
    else:
        header = b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + _chunk(b"JUNK", bytes(_DS64_BYTES))
        data_head = b"data" + struct.pack("<I", data_bytes)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(header + head_chunks + data_head)
        for a in range(0, frames, _BLOCK_FRAMES):
            f.write(_encode(data[a : a + _BLOCK_FRAMES], subtype))
        f.write(b"\x00" * pad + tail_chunks)
        f.flush()
    return path
