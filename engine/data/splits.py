"""Train/val/test splits by video (or by group of related videos), seeded."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)


def assign_splits(
    video_ids: Sequence[str],
    seed: int,
    ratios: Sequence[float],
    fixed: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
) -> dict[str, str]:
    """Split by video (or by group of videos), seeded; returns video id -> "train" | "val" | "test".

    ``fixed`` (from a labels CSV) pins videos: "test"/"val" stay, "train" is cut into train/val
    by the ratio of those two shares. The other videos are shuffled and cut by ``ratios``
    (train, val, test), every non-zero share getting at least one unit when there are enough.
    With ``groups`` (video id -> group, e.g. the game map) whole groups are the units, so no
    group is in two splits; videos without a group are a group of their own.
    """
    fixed = fixed or {}
    groups = groups or {}
    r_train, r_val, r_test = check_ratios(ratios)
    rng = np.random.default_rng(seed)
    out = {v: fixed[v] for v in video_ids if fixed.get(v) in ("val", "test")}

    def cut(videos: list[str], shares: tuple[float, float, float]) -> None:
        members: dict[str, list[str]] = {}
        for v in videos:
            members.setdefault(groups.get(v, f"video:{v}"), []).append(v)
        units = sorted(members)
        order = [units[i] for i in rng.permutation(len(units))]
        n_test, n_val = _counts(len(order), shares)
        for i, unit in enumerate(order):
            for v in members[unit]:
                out[v] = "test" if i < n_test else "val" if i < n_test + n_val else "train"

    cut(sorted(v for v in video_ids if not fixed.get(v)), (r_train, r_val, r_test))
    share = r_val / (r_train + r_val) if r_train + r_val > 0 else 0.0
    cut(sorted(v for v in video_ids if fixed.get(v) == "train"), (1.0 - share, share, 0.0))
    return out


def read_groups(path: Path, column: str, video_ids: Sequence[str]) -> dict[str, str]:
    """Video id -> group from a CSV with a header: its first column names the video (id, file or path), ``column`` the group.

    The gameplay corpus' ``manifest.csv`` works as is: ``--groups manifest.csv --group-column scenario``.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if column not in fields:
                raise DatasetError(f"{path}: no column {column!r} (columns: {', '.join(fields)}); pick one with --group-column")
            key = fields[0]
            table = [(row.get(key) or "", row.get(column) or "") for row in reader]
    except FileNotFoundError as exc:
        raise DatasetError(f"groups CSV not found: {path}") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: groups CSV unreadable ({exc})") from exc
    by_id = set(video_ids)
    by_stem: dict[str, list[str]] = {}
    for v in video_ids:
        by_stem.setdefault(Path(v).name, []).append(v)
    out: dict[str, str] = {}
    for name, group in table:
        if not name or not group:
            continue
        stem = Path(name).with_suffix("").as_posix()
        if stem in by_id:
            out[stem] = group
        elif len(by_stem.get(Path(stem).name, [])) == 1:
            out[by_stem[Path(stem).name][0]] = group
    missing = len(set(video_ids) - set(out))
    if missing:
        log.warning("%s: %d videos have no group; each is split on its own", path, missing)
    return out


def read_pinned_splits(path: Path, column: str, video_ids: Sequence[str]) -> dict[str, str]:
    """Video id -> "train" | "val" | "test" from ``column`` of a CSV (as ``read_groups``), e.g. the
    recorder's ``corpus.csv`` and its ``split`` column: those videos keep exactly that split."""
    pinned = read_groups(path, column, video_ids)
    bad = sorted({s for s in pinned.values() if s not in ("train", "val", "test")})
    if bad:
        raise DatasetError(f"{path}: column {column!r} must hold train, val or test (found {', '.join(map(repr, bad[:5]))})")
    return pinned


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or any(r < 0 or not math.isfinite(r) for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(f"split ratios must be three non-negative numbers train,val,test (got {tuple(ratios)}), e.g. 0.8,0.1,0.1")
    total = float(sum(ratios))
    return ratios[0] / total, ratios[1] / total, ratios[2] / total


def _counts(n: int, ratios: tuple[float, float, float]) -> tuple[int, int]:
    """(n_test, n_val) for ``n`` videos: rounded shares, at least one each when non-zero and n allows."""
    r_train, r_val, r_test = ratios
    n_test, n_val = round(n * r_test), round(n * r_val)
    wanted = [r > 0 for r in ratios]
    if n >= sum(wanted):
        n_test = max(n_test, 1) if r_test > 0 else 0
        n_val = max(n_val, 1) if r_val > 0 else 0
        while n_test + n_val > n - (1 if r_train > 0 else 0):
            if n_val >= n_test and n_val > (1 if r_val > 0 else 0):
                n_val -= 1
            elif n_test > (1 if r_test > 0 else 0):
                n_test -= 1
            else:
                break
    return min(n_test, n), max(0, min(n_val, n - n_test))
