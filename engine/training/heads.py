"""Train the heads on frozen pretrained towers from cached features, and choose them by the library task.

The towers (EfficientNet-Lite0 for pictures, aisfx for sounds) are frozen, so their outputs are
computed once (``engine.data.tower_cache``) and only the heads are trained: the picture head
(the paper's attention over the 7x7 map, a projection) and the sound head, under the preset's
projector and loss. An epoch over the corpus's sounding seconds takes seconds on one CPU core.

Contrastive presets (m4-m7) see batches of aligned seconds, the rest of the batch being the
negatives. The distance-classifier presets m2 and m3 (BCE, BCE + margin) see labelled pairs
(``bce_pairs``): every sounding training second once with its own sound (1) and once with another
second's sound (0), from another video or at least ``min_gap_s`` seconds away, as the scratch
trainer draws them. Either way the heads' outputs are unit vectors and retrieval ranks them by
cosine (for unit vectors the same order as the classifier's Euclidean distance).

Checkpoints are chosen by the product's own task on the validation maps: rank a sound library
for every labelled second of the validation clips and count the seconds whose started sound is
in the top k (``engine.evaluation.library_eval``). The same pass chooses the ranking's
per-sound terms (``engine.library.ranking``): the hubness penalty and the weight of the sound
prior, both estimated without labels.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.atomic import atomic_path
from engine.config import FeatureCfg, ModelCfg
from engine.data.pairs import pairs_of_pool
from engine.errors import ConfigError, DatasetError
from engine.evaluation.library_eval import (
    LabelledSecond,
    LibraryEntry,
    build_queries,
    chance_scores,
    diversity,
    find_label_files,
    label_prior,
    prior_ranking,
    read_labels,
    score_rankings,
    top1_share,
)
from engine.library.ranking import RankingCfg, file_scores, hub_scores, log_prior_from_votes, nearest_file_votes

log = logging.getLogger(__name__)

HUB_WEIGHTS = (0.0, 0.5, 1.0)
PRIOR_WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
# A ranking that offers (nearly) the same list for every picture is not a recommendation: the
# choice prefers settings whose top-10 lists differ on at least this share of the validation
# seconds and whose most frequent #1 file tops at most this share of them. (The product aims at
# 10 %; on the starter corpus only the picture alone, at a third of the hits, stays under it, so
# the rule allows one file to top up to 3 frames in 10; the dial goes either way.) The share within
# each video is reported beside it, not used: frames of one video look alike, so even the picture
# alone tops 27 % of a validation video's seconds with one file, and a 30 % cap within each video
# would leave only the picture alone.
MIN_DISTINCT_LISTS = 0.8
MAX_TOP1_SHARE = 0.3
N_REFERENCE_FRAMES = 1024
N_REFERENCE_AUDIO = 4096


@dataclass(frozen=True)
class HeadTrainCfg:
    """Head training on cached tower features (AdamW, the preset's loss, early stopping)."""

    epochs: int = 150
    batch_size: int = 256  # seconds per batch (contrastive), or pairs per batch (BCE)
    lr: float = 1e-3
    weight_decay: float = 0.05
    eval_every: int = 5
    patience: int = 6  # evaluations without improvement before stopping
    flip: bool = True  # mirror the spatial map left-right (the same as mirroring the picture)
    silence_rms: float = 1e-3
    seed: int = 0
    select_on: str = "10"  # the top-k of the library task (sample level) that chooses checkpoints
    min_gap_s: int = 5  # BCE presets: a negative's sound from the same video is at least this far away


# Presets whose projector and loss train on the towers. The picture head on a tower is always the
# attention over its map, so m1 (the scratch baseline encoder) would silently be m2; "ft" fine-tunes
# a contrastive model, which the heads trainer does not start from.
HEAD_PRESETS = ("m2", "m3", "m4", "m5", "m6", "m7")


def check_head_preset(name: str, cfg: ModelCfg) -> None:
    """``ConfigError`` unless preset ``name`` (config ``cfg``) can be trained as heads on the towers."""
    if name not in HEAD_PRESETS or cfg.encoder != "attention":
        raise ConfigError(f"preset {name!r} cannot be trained as heads on the pretrained towers; choose from "
                          f"{', '.join(HEAD_PRESETS)} (m2/m3: distance classifier with BCE / BCE + margin; m4-m7: contrastive)")


def ranking_temperature(cfg: ModelCfg) -> float:
    """The ranking's temperature for a model: the contrastive loss's, 1 for the BCE models (which
    have none). It only scales the picture term, which the ranking standardises per frame, so the
    order and the relevance do not depend on it."""
    return cfg.temperature if cfg.contrastive else 1.0


# ------------------------------------------------------------------------------------ library data
@dataclass
class LibraryFeatures:
    """A sound library's 1-s segments (the indexer's hop) through the frozen sound tower
    (a scratch sound encoder's: their log-mels, ``engine.training.mixed``)."""

    entries: list[LibraryEntry]
    seg_file: np.ndarray  # (n_seg,) file index, non-decreasing
    feats: np.ndarray  # (n_seg, 512), or (n_seg, 1, n_mels, n_frames) for a scratch sound encoder


def library_digest(root: Path, audio: str = "aisfx", features: FeatureCfg | None = None) -> str:
    """12 hex chars naming a library's contents (paths, sizes, times) and the sound tower's weights
    (the front end ``features`` for a scratch sound encoder): the cache file of
    ``library_tower_features`` is only reused for the same library and tower."""
    import hashlib

    from engine.library.scan import scan
    from engine.models.towers import tower_fingerprint

    found, _ = scan([Path(root)])
    h = hashlib.sha256(tower_fingerprint(audio).encode() if audio != "scratch" else repr(features).encode())
    for f in found:
        h.update(f"{f.path}|{f.size}|{f.mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:12]


def library_tower_features(root: Path, cache: Path | None = None, audio: str = "aisfx",
                           features: FeatureCfg | None = None) -> LibraryFeatures:
    """Decode every sound under ``root`` as the indexer does and run the sound tower ``audio``; cached in ``cache``.

    ``audio="scratch"``: a scratch sound encoder's input instead, the segments' log-mels with the
    model's front end ``features`` (the indexer's ``prepare_file``), shaped as ``prepare_mels`` gives them."""
    from engine.data.features import DEFAULT_FEATURES
    from engine.library.scan import scan
    from engine.library.segments import PreparedFile, prepare_file
    from engine.models.encoders import PretrainedAudioEncoder
    from engine.models.towers import aisfx_features

    root = Path(root)
    if cache is not None and cache.is_file():
        data = np.load(cache, allow_pickle=False)
        entries = [LibraryEntry(Path(p), str(c)) for p, c in zip(data["paths"].tolist(), data["cats"].tolist())]
        return LibraryFeatures(entries, data["seg_file"], data["feats"])
    if audio == "scratch":
        if features is None:
            raise ValueError("a scratch sound encoder's library features need the model's front end (features)")
        feats_cfg, enc = features, None
    else:
        feats_cfg, enc = aisfx_features(DEFAULT_FEATURES), PretrainedAudioEncoder(audio).eval()
    entries, seg_file, feats = [], [], []
    found, _ = scan([root])
    for found_file in found:
        prepared = prepare_file(found_file.path, found_file.root, found_file.size, found_file.mtime_ns, feats_cfg)
        if not isinstance(prepared, PreparedFile):
            log.warning("%s: skipped (%s)", found_file.path, prepared.reason)
            continue
        mels = torch.from_numpy(prepared.mels).unsqueeze(1)
        if enc is None:
            emb = mels.numpy()
        else:
            with torch.no_grad():
                emb = enc.tower_features(mels).numpy()
        seg_file.append(np.full(len(emb), len(entries)))
        feats.append(emb)
        entries.append(LibraryEntry(found_file.path, str(prepared.meta.category or "")))
    if not entries:
        raise DatasetError(f"{root}: no decodable sound files")
    out = LibraryFeatures(entries, np.concatenate(seg_file), np.concatenate(feats).astype(np.float32))
    if cache is not None:  # written whole or not at all: a killed run never leaves a cut cache behind
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, paths=np.array([str(e.path) for e in entries]), cats=np.array([e.category for e in entries]),
                     seg_file=out.seg_file, feats=out.feats)
    return out


@dataclass
class LibraryTask:
    """Labelled seconds of some clips (one split) as queries, with their cached picture maps."""

    split: str
    queries: list[LabelledSecond]
    maps: np.ndarray  # (n_q, C, h, w) float16
    popularity: np.ndarray  # per library file: starts in the training clips' labels (baseline only)
    sounds: np.ndarray | None = None  # (n_q, ...) the seconds' own recorded sound features (the upper bound only)


def build_task(tf, lib: LibraryFeatures, videos: Path | Sequence[Path], split: str | Sequence[str],
               labels_glob: str = "*_labels.tsv", clips_of: set[str] | None = None) -> LibraryTask:
    """The library task of ``split`` (one split or several) over the labelled clips in ``videos`` (a
    folder or several) whose tower features are cached; only the clips in ``clips_of`` when given."""
    folders = [Path(videos)] if isinstance(videos, (str, Path)) else [Path(v) for v in videos]
    clips: dict[str, tuple[Path, Path]] = {}
    for folder in folders:
        if len(folders) > 1 and folder.is_dir() and not any(folder.glob(labels_glob)):
            continue  # a folder of games that log no sounds: nothing to add to the task
        clips.update(find_label_files(folder, labels_glob))
    if clips_of is not None:
        clips = {c: v for c, v in clips.items() if c in clips_of}
    splits = {split} if isinstance(split, str) else set(split)
    split_of = {}
    for vid, s in zip(tf.video_ids.tolist(), tf.splits.tolist()):
        split_of.setdefault(vid, s)
    test = {c: read_labels(clips[c][1]) for c in clips if split_of.get(c) in splits}
    train = {c: read_labels(clips[c][1]) for c in clips if split_of.get(c) == "train"}
    queries, _ = build_queries(test, lib.entries)
    row_of = {(v, int(s)): i for i, (v, s) in enumerate(zip(tf.video_ids.tolist(), tf.seconds.tolist()))}
    kept = [q for q in queries if (q.clip, q.second) in row_of]
    name = "+".join(sorted(splits))
    if not kept:
        raise DatasetError(f"no labelled {name} second has cached tower features; run cache-towers on the dataset")
    rows = [row_of[(q.clip, q.second)] for q in kept]
    return LibraryTask(name, kept, tf.vision[rows], label_prior(train, lib.entries), tf.audio[rows])


# ------------------------------------------------------------------------------------ evaluation
def _embed_maps(model, maps: np.ndarray, batch: int = 512) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(maps), batch):
            out.append(model.vision.head_with_maps(torch.from_numpy(maps[i : i + batch]).float())[0].numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.embed_dim), np.float32)


def _embed_audio(model, feats: np.ndarray, batch: int = 512) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            out.append(model.audio.head_with_maps(torch.from_numpy(feats[i : i + batch]).float())[0].numpy())
    return np.concatenate(out)


def top1_share_per_video(queries: Sequence[LabelledSecond], firsts: Sequence[int]) -> float:
    """Over the videos, the mean share of a video's seconds that its most frequent #1 file tops:
    what a designer sees scrubbing through one video (pooled over many videos a hub can hide)."""
    by_clip: dict[str, list[list[int]]] = {}
    for q, f in zip(queries, firsts):
        by_clip.setdefault(q.clip, []).append([int(f)])
    shares = [top1_share(lists) for lists in by_clip.values()]
    return float(np.mean(shares)) if shares else 0.0


def clip_retrieval(model, tf, rows: np.ndarray, n: int = 150, ks: Sequence[int] = (1, 10), seed: int = 0) -> dict:
    """Each picture of a search list of ``n`` seconds (drawn from ``rows``, seeded) ranks the list's
    sounds: how often its own second's sound is in the top k, beside chance (k / n)."""
    rows = np.asarray(rows, np.int64)
    if len(rows) < 2:
        return {"n": int(len(rows))}
    pick = np.sort(np.random.default_rng(seed).choice(rows, min(n, len(rows)), replace=False))
    v = _embed_maps(model, tf.vision[pick])
    a = _embed_audio(model, tf.audio[pick])
    sims = v @ a.T
    rank = (sims > np.diag(sims)[:, None]).sum(1)  # 0 = the own sound is first
    out = {"n": int(len(pick)), "median_rank": float(np.median(rank) + 1)}
    for k in ks:
        out[f"R@{k}"] = float(np.mean(rank < k))
        out[f"chance R@{k}"] = min(1.0, k / len(pick))
    return out


@dataclass
class References:
    """Training seconds the ranking's per-sound terms are estimated from (stored in the model file)."""

    frames: np.ndarray  # (n, D) picture embeddings
    audio: np.ndarray  # (m, D) sound embeddings


def references(model, tf, seed: int = 0) -> References:
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(tf.splits == "train")
    fr = np.sort(rng.choice(train, min(N_REFERENCE_FRAMES, len(train)), replace=False))
    au = np.sort(rng.choice(train, min(N_REFERENCE_AUDIO, len(train)), replace=False))
    return References(_embed_maps(model, tf.vision[fr]), _embed_audio(model, tf.audio[au]))


def evaluate_task(model, lib: LibraryFeatures, task: LibraryTask, refs: References,
                  grid: list[RankingCfg], ks=(1, 3, 5, 10), by_own_sound: bool = False) -> dict[RankingCfg, dict]:
    """Library-task scores of every ranking setting in ``grid`` (one embedding pass).

    ``by_own_sound``: each labelled second queries with its own recorded sound (the audio head's
    embedding) instead of its picture: the most a picture that predicted the sound perfectly could
    reach through these heads and this ranking, an upper bound to read the picture's scores against.
    """
    lib_emb = _embed_audio(model, lib.feats)
    if by_own_sound and task.sounds is None:
        raise ValueError("this task has no recorded sounds to query with")
    q = _embed_audio(model, task.sounds) if by_own_sound else _embed_maps(model, task.maps)
    hub = hub_scores(lib_emb, refs.frames)
    logp = log_prior_from_votes(nearest_file_votes(lib_emb, lib.seg_file, len(lib.entries), refs.audio), len(lib.entries))
    out = {}
    kmax = max(ks)
    for rc in grid:
        scores = file_scores(q, lib_emb, lib.seg_file, len(lib.entries), rc, hub, logp)  # (n_q, n_files)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :kmax]
        res = score_rankings(task.queries, top.tolist(), lib.entries, ks)
        res["diversity"] = diversity(top.tolist(), 10)
        res["top1_share"] = top1_share(top.tolist())
        res["top1_share_per_video"] = top1_share_per_video(task.queries, top[:, 0])
        out[rc] = res
    return out


def baselines(lib: LibraryFeatures, task: LibraryTask, ks=(1, 3, 5, 10)) -> dict[str, dict]:
    kmax = max(ks)
    return {
        "chance (uniform)": chance_scores(task.queries, lib.entries, ks),
        "popularity (training labels, image-blind)": score_rankings(task.queries, [prior_ranking(task.popularity, kmax)] * len(task.queries), lib.entries, ks),
    }


def varied(res: dict) -> bool:
    d = res["diversity"]
    return d["distinct_topk_lists"] >= MIN_DISTINCT_LISTS * d["queries"] and res["top1_share"] <= MAX_TOP1_SHARE


def selection_key(res: dict, select_on: str = "10") -> tuple[bool, float]:
    """Varied settings first, then the sample-level hits at top-``select_on`` plus top-3."""
    return varied(res), res["sample"][select_on] + res["sample"]["3"]


def choose_ranking(results: dict[RankingCfg, dict], select_on: str = "10") -> tuple[RankingCfg, dict]:
    """The best setting by ``selection_key`` (the same key compares epochs)."""
    return max(results.items(), key=lambda kv: selection_key(kv[1], select_on))


def bce_pairs(tf, train: np.ndarray, rng: np.random.Generator, min_gap_s: int = 5) -> np.ndarray:
    """One BCE epoch: ``(2 n, 3)`` int64 rows ``frame, audio, label`` over the ``n`` positions ``train``
    of ``tf``, shuffled: each second once with its own sound (1) and once with the sound of another
    second (0) of ``train``, from another video or at least ``min_gap_s`` seconds away."""
    train = np.asarray(train, np.int64)
    return pairs_of_pool(tf, train, 2 * len(train), rng, "gameplay", min_gap_s)


def epoch_batches(model_cfg: ModelCfg, tf, train: np.ndarray, cfg: HeadTrainCfg, rng: np.random.Generator) -> list[tuple]:
    """One epoch's full batches ``(frames, audio, labels)`` of positions in ``tf``: aligned seconds and
    ``labels`` None (contrastive), or the pairs of ``bce_pairs`` with their 0/1 labels."""
    if model_cfg.contrastive:
        order = rng.permutation(train)
        return [(idx, idx, None) for idx in (np.sort(order[i : i + cfg.batch_size])
                                             for i in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size))]
    pairs = bce_pairs(tf, train, rng, cfg.min_gap_s)
    return [(b[:, 0], b[:, 1], b[:, 2]) for b in (pairs[i : i + cfg.batch_size]
                                                  for i in range(0, len(pairs) - cfg.batch_size + 1, cfg.batch_size))]


def default_grid(temperature: float) -> list[RankingCfg]:
    return [RankingCfg(temperature, h, w) for h in HUB_WEIGHTS for w in PRIOR_WEIGHTS]


# ------------------------------------------------------------------------------------ training
@dataclass
class HeadRun:
    model: object
    best_epoch: int
    best_ranking: RankingCfg
    history: list[dict] = field(default_factory=list)
    val: dict = field(default_factory=dict)


def train_heads(model_cfg: ModelCfg, tf, lib: LibraryFeatures, val: LibraryTask, cfg: HeadTrainCfg = HeadTrainCfg(),
                progress: Callable[[str], None] | None = None) -> HeadRun:
    """Train the heads of ``model_cfg`` (both towers pretrained) on cached features; keep the best by ``val``."""
    from engine.models import AVModel
    from engine.models.towers import features_for

    say = progress or (lambda m: None)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = AVModel(model_cfg, features_for(model_cfg.vision_tower, model_cfg.audio_tower))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    train = np.flatnonzero((tf.splits == "train") & (tf.levels >= cfg.silence_rms))
    if len(train) < cfg.batch_size:
        raise DatasetError(f"only {len(train)} sounding training seconds; need at least one batch of {cfg.batch_size}")
    per_epoch = len(train) if model_cfg.contrastive else 2 * len(train)  # seconds, or pairs (BCE)
    steps = math.ceil(per_epoch / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps)
    grid = default_grid(ranking_temperature(model_cfg))
    best, best_key, best_state, best_epoch, best_rc, stale = None, (False, -1.0), None, 0, grid[0], 0
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total, count, t0 = 0.0, 0, time.perf_counter()
        for frames, audio, labels in epoch_batches(model_cfg, tf, train, cfg, rng):
            batch = tf.vision[frames]  # a float16 copy
            if cfg.flip:
                flip = rng.random(len(frames)) < 0.5
                batch[flip] = batch[flip][..., ::-1]
            maps = torch.from_numpy(batch).float()
            ev = model.vision.head_with_maps(maps)[0]
            ea = model.audio.head_with_maps(torch.from_numpy(tf.audio[audio]))[0]
            loss, _ = model.loss(ev, ea, None if labels is None else torch.from_numpy(labels))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(frames)
            count += len(frames)
        row = {"epoch": epoch, "loss": total / max(1, count), "seconds": time.perf_counter() - t0}
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            model.eval()
            refs = references(model, tf, cfg.seed)
            res = evaluate_task(model, lib, val, refs, grid)
            rc, r = choose_ranking(res, cfg.select_on)
            key = selection_key(r, cfg.select_on)
            row.update({"val_top10": r["sample"]["10"], "val_top3": r["sample"]["3"], "ranking": rc.as_dict()})
            say(f"epoch {epoch}: loss {row['loss']:.3f}, val top-10 {100 * row['val_top10']:.1f}% top-3 {100 * row['val_top3']:.1f}% "
                f"({rc}; #1 share {100 * r['top1_share']:.0f}%{'' if key[0] else ', not varied'})")
            if key > best_key:
                best_key, best_state, best_epoch, best_rc, best, stale = key, copy.deepcopy(model.state_dict()), epoch, rc, res, 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    say(f"no better for {cfg.patience} evaluations: stopped at epoch {epoch}")
                    history.append(row)
                    break
        history.append(row)
    model.load_state_dict(best_state)
    model.eval()
    return HeadRun(model, best_epoch, best_rc, history, best or {})


def attach_ranking(model, tf, ranking: RankingCfg, seed: int = 0) -> None:
    """Store the chosen ranking terms and their reference embeddings in ``model.extra`` (saved with it)."""
    refs = references(model, tf, seed)
    model.extra = dict(model.extra)
    model.extra["ranking"] = ranking.as_dict()
    model.extra["reference_frames"] = torch.from_numpy(refs.frames.astype(np.float16))
    model.extra["reference_audio"] = torch.from_numpy(refs.audio.astype(np.float16))


def pretrained_cfg(preset_cfg: ModelCfg, dropout: float = 0.3, hidden: int = 0, audio_tower: str = "aisfx") -> ModelCfg:
    """A preset's projector and loss on both pretrained towers (the sound tower ``aisfx`` or ``aisfx-small``)."""
    return replace(preset_cfg, vision_tower="efficientnet-lite0", audio_tower=audio_tower, image_size=224,
                   head_dropout=dropout, head_hidden=hidden)
