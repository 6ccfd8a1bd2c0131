"""Label-based recommendation evaluation: does frame k rank the sounds a game started at second k?

Gameplay recordings of Battle for Wesnoth come with per-second lists of the sound files the game
started (``<clip>_labels.tsv``: ``k<TAB>a.ogg;b.wav``). With Wesnoth's own sounds indexed as a
library, each labelled second of a held-out clip is a query: rank the library for frame k and
count

* a sample-level hit at k when a started file is among the top k files, and
* a category-level hit when a started file's category (the library's category) is among them,

beside uniform chance (exact, from the library's size and category counts) and image-blind
baselines that offer the same list for every frame: the library files most often started in the
TRAINING clips (``prior-labels``), and, fully self-supervised, the files that are most often the
nearest library neighbour of a training second's audio (``prior-audio``). ``model+prior`` re-ranks
the model's candidates with a log-prior bonus (docs/architecture.md, "An image-blind baseline beside every figure").

The scoring functions are pure (lists of file indices in, numbers out); ``run_library_eval`` wires
them to a model, a sound index and the clips.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_text
from engine.errors import DatasetError

log = logging.getLogger(__name__)

KS = (1, 3, 5, 10)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LibraryEntry:
    """One library file as the evaluation sees it."""

    path: Path
    category: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class LabelledSecond:
    """One query: second ``second`` of clip ``clip`` and the library files started in it."""

    clip: str
    second: int
    targets: list[int]  # indices into the library list
    labels: list[str] = field(default_factory=list)  # the raw names from the tsv


# ------------------------------------------------------------------------------------ label files
def read_labels(path: Path) -> dict[int, list[str]]:
    """``k<TAB>a.ogg;b.wav`` lines -> {k: [names]} (empty lists for seconds without starts)."""
    out: dict[int, list[str]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the label file ({exc})") from exc
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        first, _, rest = line.partition("\t")
        try:
            k = int(first)
        except ValueError as exc:
            raise DatasetError(f"{path}:{n}: expected 'SECOND<TAB>file;file', got {line[:60]!r}") from exc
        out[k] = [s.strip() for s in rest.split(";") if s.strip()]
    return out


def label_name(label: str) -> str:
    """Label entries are paths relative to the game's sound folder; library files keep the base name."""
    return label.replace("\\", "/").rsplit("/", 1)[-1]


def build_queries(labels: dict[str, dict[int, list[str]]], library: Sequence[LibraryEntry],
                  exclude_prefixes: Sequence[str] = ("ambient/",)) -> tuple[list[LabelledSecond], Counter]:
    """Queries for every labelled second whose started files are in the library; counts of labels not found."""
    by_name: dict[str, int] = {}
    for i, e in enumerate(library):
        by_name.setdefault(e.name, i)
    missing: Counter = Counter()
    queries = []
    for clip in sorted(labels):
        for k in sorted(labels[clip]):
            names = [s for s in labels[clip][k] if not any(s.startswith(p) for p in exclude_prefixes)]
            targets = []
            for s in names:
                idx = by_name.get(label_name(s))
                if idx is None:
                    missing[s] += 1
                elif idx not in targets:
                    targets.append(idx)
            if targets:
                queries.append(LabelledSecond(clip, k, targets, names))
    return queries, missing


# ---------------------------------------------------------------------------------------- scoring
def hits_at(ranked: Sequence[int], targets: Iterable[int], k: int) -> bool:
    t = set(targets)
    return any(i in t for i in ranked[:k])


def category_hits_at(ranked: Sequence[int], targets: Iterable[int], library: Sequence[LibraryEntry], k: int) -> bool:
    cats = {library[i].category for i in targets}
    return any(library[i].category in cats for i in ranked[:k])


def _p_any(n: int, m: int, k: int) -> float:
    """Probability that a uniformly random k-subset of n items contains at least one of m marked items."""
    k = min(k, n)
    if m <= 0:
        return 0.0
    if n - m < k:
        return 1.0
    return 1.0 - math.exp(math.lgamma(n - m + 1) - math.lgamma(n - m - k + 1) - math.lgamma(n + 1) + math.lgamma(n - k + 1))


def chance_scores(queries: Sequence[LabelledSecond], library: Sequence[LibraryEntry], ks: Sequence[int] = KS) -> dict[str, dict[str, float]]:
    """Exact expected hit rates of a uniformly random ranking of the library."""
    n = len(library)
    per_cat = Counter(e.category for e in library)
    out: dict[str, dict[str, float]] = {"sample": {}, "category": {}}
    for k in ks:
        s = [_p_any(n, len(q.targets), k) for q in queries]
        c = [_p_any(n, sum(per_cat[c] for c in {library[i].category for i in q.targets}), k) for q in queries]
        out["sample"][str(k)] = float(np.mean(s)) if s else 0.0
        out["category"][str(k)] = float(np.mean(c)) if c else 0.0
    return out


def score_rankings(queries: Sequence[LabelledSecond], rankings: Sequence[Sequence[int]], library: Sequence[LibraryEntry],
                   ks: Sequence[int] = KS) -> dict[str, dict[str, float]]:
    """Sample- and category-level top-k hit rates of one ranking per query."""
    if len(queries) != len(rankings):
        raise ValueError(f"{len(queries)} queries but {len(rankings)} rankings")
    out: dict[str, dict[str, float]] = {"sample": {}, "category": {}}
    for k in ks:
        s = [hits_at(r, q.targets, k) for q, r in zip(queries, rankings)]
        c = [category_hits_at(r, q.targets, library, k) for q, r in zip(queries, rankings)]
        out["sample"][str(k)] = float(np.mean(s)) if s else 0.0
        out["category"][str(k)] = float(np.mean(c)) if c else 0.0
    return out


def diversity(rankings: Sequence[Sequence[int]], k: int = 10) -> dict[str, float]:
    """How much the top-k lists vary across frames (a model that offers one list for all frames scores 1 / 1)."""
    if not rankings:
        return {"distinct_top1": 0, "distinct_in_topk": 0, "distinct_topk_lists": 0, "queries": 0}
    return {
        "distinct_top1": len({r[0] for r in rankings if len(r)}),
        "distinct_in_topk": len({i for r in rankings for i in r[:k]}),
        "distinct_topk_lists": len({tuple(r[:k]) for r in rankings}),
        "queries": len(rankings),
    }


def top1_share(rankings: Sequence[Sequence[int]]) -> float:
    """The share of queries whose #1 is the most frequent #1 (1.0: one file tops every list)."""
    firsts = [r[0] for r in rankings if len(r)]
    return max(Counter(firsts).values()) / len(firsts) if firsts else 0.0


def label_prior(train_labels: dict[str, dict[int, list[str]]], library: Sequence[LibraryEntry],
                exclude_prefixes: Sequence[str] = ("ambient/",)) -> np.ndarray:
    """Per library file: in how many training seconds the game started it."""
    by_name = {}
    for i, e in enumerate(library):
        by_name.setdefault(e.name, i)
    counts = np.zeros(len(library), np.float64)
    for per_clip in train_labels.values():
        for names in per_clip.values():
            for idx in {by_name.get(label_name(s)) for s in names if not any(s.startswith(p) for p in exclude_prefixes)}:
                if idx is not None:
                    counts[idx] += 1
    return counts


def prior_ranking(prior: np.ndarray, k: int) -> list[int]:
    """The image-blind list: the k most frequent files (ties by library order), the same for every frame."""
    order = np.lexsort((np.arange(len(prior)), -prior))
    return [int(i) for i in order[:k]]


def rerank_with_prior(candidates: Sequence[tuple[int, float]], prior: np.ndarray, weight: float, k: int) -> list[int]:
    """Re-rank (file, distance) candidates by ``distance - weight * log1p(prior)`` (smaller is better)."""
    scored = sorted(candidates, key=lambda c: (c[1] - weight * math.log1p(float(prior[c[0]])), c[0]))
    return [i for i, _ in scored[:k]]


def render_markdown(report: dict) -> str:
    """The JSON report as a Table-1-style Markdown table."""
    ks = report["ks"]
    head = "| ranking | " + " | ".join(f"sample top-{k}" for k in ks) + " | " + " | ".join(f"category top-{k}" for k in ks) + " |"
    lines = [
        f"# Library recommendation evaluation ({report['library']['files']} library files, "
        f"{report['library']['categories']} categories, {report['queries']} labelled evaluation seconds "
        f"in {len(report['clips'])} clips)",
        "",
        f"Checkpoint `{report.get('checkpoint', '')}` (model {report.get('model_id', '')}); split: {report['split_source']}.",
        "",
        head,
        "|---|" + "---|" * (2 * len(ks)),
    ]
    for name, res in report["rankings"].items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * res['sample'][str(k)]:.1f}%" for k in ks) + " | "
                     + " | ".join(f"{100 * res['category'][str(k)]:.1f}%" for k in ks) + " |")
    d = report.get("diversity", {})
    if d:
        lines += ["", f"Model top-{ks[-1]} lists over {d['queries']} frames: {d['distinct_topk_lists']} distinct lists, "
                  f"{d['distinct_in_topk']} distinct files, {d['distinct_top1']} distinct top-1 files."]
    if report.get("missing_labels"):
        lines += ["", f"Started files not in the library (left out of the targets): {report['missing_labels']}."]
    lines += ["", "A hit: a file the game started during second k (sample level), or a file of the same "
              "library category (category level), is in the top k for frame k. Chance: a uniformly random "
              "ranking (exact expectation). prior-*: the same list for every frame (image-blind).", ""]
    return "\n".join(lines)


def write_report(report: dict, out_dir: Path, stem: str = "library_eval") -> tuple[Path, Path]:
    """Write ``stem.json`` and ``stem.md`` atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".json", json.dumps(report, indent=2, sort_keys=False) + "\n"), (".md", render_markdown(report))):
        path = out_dir / f"{stem}{suffix}"
        atomic_write_text(path, text)
        paths.append(path)
    return paths[0], paths[1]


# ------------------------------------------------------------------------------------ data access
def find_label_files(videos: Path, pattern: str) -> dict[str, tuple[Path, Path]]:
    """{clip stem: (video, labels)} for every label file that has a video beside it."""
    from engine.data.media import VIDEO_EXTENSIONS

    if not videos.is_dir():
        raise DatasetError(f"{videos}: not a folder of clips")
    out = {}
    for tsv in sorted(videos.glob(pattern)):
        stem = tsv.name[: -len("_labels.tsv")] if tsv.name.endswith("_labels.tsv") else tsv.stem
        video = next((tsv.with_name(stem + ext) for ext in sorted(VIDEO_EXTENSIONS) if tsv.with_name(stem + ext).exists()), None)
        if video is None:
            log.warning("%s: no video named %s.* beside it; skipped", tsv, stem)
            continue
        out[stem] = (video, tsv)
    if not out:
        raise DatasetError(f"{videos}: no '{pattern}' label files with a video beside them")
    return out


def splits_from_dataset(dataset: Path) -> dict[str, str]:
    """{video stem: split} from a prepared dataset (video ids, and the source file names in shard meta)."""
    from engine.data.cache import FeatureCache

    cache = FeatureCache(dataset)
    out: dict[str, str] = {}
    for vid, split in zip(cache.video_ids.tolist(), cache.splits.tolist()):
        if vid in out:
            continue
        out[vid] = split
    for row in {r.shard: r for r in cache.rows}.values():
        meta = dataset / "shards" / row.shard / "meta.json"
        try:
            src = json.loads(meta.read_text()).get("source") or json.loads(meta.read_text()).get("path")
        except (OSError, ValueError):
            src = None
        if src:
            out.setdefault(Path(src).stem, row.split)
    return out


def train_audio_rows(dataset: Path, silence_rms: float) -> tuple[object, np.ndarray]:
    """The feature cache and the rows of training seconds louder than ``silence_rms``."""
    from engine.data.cache import FeatureCache

    cache = FeatureCache(dataset)
    rows = cache.indices("train")
    return cache, rows[cache.levels[rows] >= silence_rms]


def run_library_eval(
    checkpoint: Path,
    videos: Path,
    db_dir: Path,
    *,
    labels_glob: str = "*_labels.tsv",
    split_from: Path | None = None,
    split: str = "test",
    ks: Sequence[int] = KS,
    path_contains: str | None = None,
    prior_weight: float = 0.05,
    candidates: int = 50,
    max_train_audio: int = 4000,
    silence_rms: float = 1e-3,
    include_ambient: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Rank the indexed library for every labelled second of the held-out clips and score it (see module doc)."""
    from engine.data.media import read_frames_at
    from engine.data.tower_cache import clip_mels
    from engine.library.loading import load_engine

    say = progress or (lambda msg: None)
    loaded = load_engine(checkpoint, db_dir)
    model, index, rec = loaded.model, loaded.index, loaded.recommender
    files = index.files()
    library = [LibraryEntry(Path(f.path), str(f.category or "")) for f in files
               if path_contains is None or path_contains in str(f.path)]
    if not library:
        raise DatasetError(f"{db_dir}: the index holds no files" + (f" whose path contains {path_contains!r}" if path_contains else ""))
    pos = {e.path: i for i, e in enumerate(library)}

    clips = find_label_files(videos, labels_glob)
    if split_from is not None:
        splits = splits_from_dataset(split_from)
        unknown = [c for c in clips if c not in splits]
        if unknown:
            log.warning("%d labelled clips are not in %s and are left out: %s", len(unknown), split_from, unknown[:5])
        test = [c for c in clips if splits.get(c) == split]
        train = [c for c in clips if splits.get(c) == "train"]
        split_source = f"clips in split '{split}' of {split_from}; priors from its 'train' clips"
    else:
        test = list(clips)
        train = list(clips)
        split_source = "every labelled clip (no --split-from: the label prior sees the test clips, an optimistic baseline)"
    if not test:
        raise DatasetError(f"no labelled clips in split {split!r}; check --split-from and --videos")
    excl = () if include_ambient else ("ambient/",)
    test_labels = {c: read_labels(clips[c][1]) for c in test}
    queries, missing = build_queries(test_labels, library, excl)
    if not queries:
        raise DatasetError("no labelled test second names a file that is in the index; index the game's own sounds (see docs/real-data.md)")
    say(f"{len(queries)} labelled seconds in {len(test)} test clips; library {len(library)} files")

    kmax = max(ks)
    want = max(kmax, candidates)

    def ranked(vec: np.ndarray, plain: bool = False) -> list[tuple[int, float]]:
        out = []
        cands = rec.for_embedding(vec, k=want + (len(files) - len(library) if path_contains else 0), sound_query=plain,
                                  **({"path_contains": path_contains} if path_contains else {}))
        for c in cands:
            i = pos.get(Path(c.path))
            if i is not None:
                out.append((i, float(c.distance)))
        return out[:want]

    # frame embeddings of the query seconds, clip by clip (sequential decoding)
    model_cands: list[list[tuple[int, float]]] = []
    ablations: dict[str, list[list[int]]] = {}  # the model's ranking terms switched off one by one
    terms = rec.ranking
    by_clip: dict[str, list[LabelledSecond]] = {}
    for q in queries:
        by_clip.setdefault(q.clip, []).append(q)
    ordered: list[LabelledSecond] = []
    for clip, qs in by_clip.items():
        frames = read_frames_at(clips[clip][0], [q.second + 0.5 for q in qs])
        emb = model.embed_frames(np.stack(frames))
        for q, v in zip(qs, emb):
            model_cands.append(ranked(v))
            ordered.append(q)
            if terms is not None:
                ablations.setdefault("model: picture only (no hubness fix, no prior)", []).append([i for i, _ in ranked(v, plain=True)[:kmax]])
                chosen = rec.prior_weight
                rec.prior_weight = 0.0
                ablations.setdefault(f"model: hubness fix (w={terms.hub_weight:g}), no prior", []).append([i for i, _ in ranked(v)[:kmax]])
                rec.prior_weight = chosen
        say(f"{clip}: {len(qs)} frames ranked")
    queries = ordered

    name = "model" if terms is None else f"model (hubness fix {terms.hub_weight:g}, prior weight {rec.prior_weight:g})"
    rankings: dict[str, list[list[int]]] = {name: [[i for i, _ in c[:kmax]] for c in model_cands], **ablations}
    train_labels = {c: read_labels(clips[c][1]) for c in train}
    lprior = label_prior(train_labels, library, excl)
    rankings["prior-labels (image-blind)"] = [prior_ranking(lprior, kmax)] * len(queries)
    aprior = None
    if split_from is not None:
        cache, rows = train_audio_rows(split_from, silence_rms)
        if len(rows) > max_train_audio:
            rows = np.sort(np.random.default_rng(0).choice(rows, max_train_audio, replace=False))
        aprior = np.zeros(len(library))
        for start in range(0, len(rows), 256):
            ea = model.embed_audio(clip_mels(cache, rows[start:start + 256], model.features))
            for v in ea:
                nn = ranked(v)
                if nn:
                    aprior[nn[0][0]] += 1
        rankings["prior-audio (image-blind, self-supervised)"] = [prior_ranking(aprior, kmax)] * len(queries)
        rankings[f"model + audio prior (w={prior_weight})"] = [rerank_with_prior(c, aprior, prior_weight, kmax) for c in model_cands]
        say(f"audio prior from {len(rows)} training seconds")
    rankings[f"model + label prior (w={prior_weight})"] = [rerank_with_prior(c, lprior, prior_weight, kmax) for c in model_cands]

    results = {"chance (uniform)": chance_scores(queries, library, ks)}
    for name, r in rankings.items():
        results[name] = score_rankings(queries, r, library, ks)
    top_prior = prior_ranking(lprior, 5)
    return {
        "format_version": FORMAT_VERSION,
        "checkpoint": str(checkpoint),
        "model_id": model.model_id,
        "db": str(db_dir),
        "ks": list(ks),
        "split_source": split_source,
        "clips": sorted(by_clip),
        "train_clips": len(train),
        "queries": len(queries),
        "library": {"files": len(library), "categories": len({e.category for e in library})},
        "ambient_excluded": not include_ambient,
        "missing_labels": dict(missing.most_common(20)),
        "rankings": results,
        "diversity": diversity(rankings[name], kmax),
        "top1_share": top1_share(rankings[name]),
        "most_frequent_training_files": [library[i].name for i in top_prior],
    }
