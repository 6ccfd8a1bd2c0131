"""The recommender side of the app: loading the model and index, the 1-fps video embedding pass,
debounced recommendations with stale results dropped, "more like this", and attention maps.

All engine calls run on one dedicated thread (``serial_pool``): the model and the SQLite index are
used from that thread only. The background video pass runs on the global pool. (torch itself is
imported before the window shows, see ``foley_app.main.warm_up_torch``.)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.api import Candidate
from foley_app.workers import Worker, run_in_pool, serial_pool

log = logging.getLogger(__name__)

INFERENCE_THREADS = 1  # torch threads for the app's CPU inference (see load_engine)
DEBOUNCE_MS = 60  # at most one live embedding per 60 ms while scrubbing


@dataclass
class EngineInfo:
    """What the status bar shows about the loaded engine."""

    model_path: Path
    model_id: str
    device: str
    n_files: int
    n_segments: int
    db_dir: Path
    load_s: float
    hours: float = 0.0
    categories: int = 0
    skipped: int = 0
    default_prior_weight: float | None = None  # the model's weight of the sound prior; None: no ranking terms


@dataclass
class Recommendation:
    """One finished ranking: which request, for which second (or sound), from where, how fast."""

    request_id: int
    second: int
    candidates: list[Candidate]
    source: str  # "cache" | "live" | "similar"
    elapsed_ms: float
    query: str = ""  # the sound name for "more like this"
    learned: int = 0  # how many of the designer's choices shaped this list


@dataclass
class _Engine:
    model: Any
    index: Any
    recommender: Any
    video_cache: Any
    info: EngineInfo
    rows: np.ndarray | None = None  # cached 1-fps embeddings of the current video
    rows_video: Path | None = None
    extra: dict = field(default_factory=dict)


def load_engine(model_path: Path, db_dir: Path, cache_dir: Path, device: str = "auto") -> _Engine:
    """Load the model, open its index and build the recommender (on the engine thread)."""
    from engine.api import load_engine as load

    # one intra-op thread: batch-1 frames and the concurrent video pass otherwise oversubscribe a
    # 2-core CPU and OpenMP spin-waits make each frame 5-10x slower (docs/performance.md)
    loaded = load(Path(model_path), Path(db_dir), Path(cache_dir) / "videos", device=device, cpu_threads=INFERENCE_THREADS)
    stats = loaded.index.stats()
    rec = loaded.recommender
    info = EngineInfo(Path(model_path), loaded.model.model_id, loaded.device, int(stats.files),
                      int(stats.segments), Path(db_dir), loaded.load_s, float(stats.hours),
                      int(stats.categories), int(stats.skipped),
                      None if rec.ranking is None else float(rec.ranking.prior_weight))
    log.info("engine loaded in %.2f s: model %s on %s, %d files / %d segments", info.load_s, info.model_id, info.device,
             info.n_files, info.n_segments)
    return _Engine(loaded.model, loaded.index, rec, loaded.video_cache, info)


def mean_attention(maps: list[np.ndarray], size: int = 28) -> np.ndarray | None:
    """Average of the model's attention maps, each resized to ``size`` x ``size`` (None for baselines)."""
    import cv2

    if not maps:
        return None
    acc = np.zeros((size, size), np.float32)
    for m in maps:
        m = np.asarray(m, np.float32)
        m = cv2.resize(m / max(float(m.max()), 1e-12), (size, size), interpolation=cv2.INTER_LINEAR)
        acc += m
    return acc / len(maps)


def frame_vector(engine: _Engine, video: Path, second: int) -> np.ndarray:
    """The embedding of the video's frame for ``second``: the 1-fps pass's row, else embedded now."""
    rows = engine.rows if engine.rows_video == video else engine.video_cache.cached(video)
    if rows is not None and 0 <= second < len(rows) and np.isfinite(rows[second]).all():
        return np.asarray(rows[second], np.float32)
    from engine.api import read_frame

    return engine.model.embed_frames(read_frame(video, second + engine.model.features.frame_offset)[None])[0]


def feedback_model(engine: _Engine, video: Path, choices: tuple):  # -> engine.api.Feedback
    """The choices as vectors (engine thread; frame and sound vectors cached per engine)."""
    from engine.api import EngineError, Feedback, sound_vectors

    key = (video, choices)
    cached = engine.extra.get("feedback")
    if cached is not None and cached[0] == key:
        return cached[1]
    frames = engine.extra.setdefault("feedback_frames", {})
    sounds = engine.extra.setdefault("feedback_sounds", {})
    fb = Feedback()
    for c in choices:
        try:
            f = frames.get((video, c.second))
            if f is None:
                f = frames[(video, c.second)] = frame_vector(engine, video, c.second)
            s = sounds.get((c.sound_path, c.offset))
            if s is None:
                s = sounds[(c.sound_path, c.offset)] = sound_vectors(engine.recommender, [(c.sound_path, c.offset)])[0]
            fb.add(f, s, c.kind == "place")
        except (EngineError, OSError) as exc:  # a moved sound file, say: that choice is left out
            log.info("choice %s %s at %.1f s not used: %s", c.kind, c.sound_path, c.time, exc)
    engine.extra["feedback"] = (key, fb)
    return fb


class EngineController(QObject):
    """Owns the engine objects; everything that touches them is queued on ``self.pool``."""

    loading = Signal(str)  # what is being loaded
    ready = Signal(object)  # EngineInfo
    load_failed = Signal(str)
    recommendations_ready = Signal(object)  # Recommendation
    recommendation_failed = Signal(str)
    video_pass_progress = Signal(int, int)  # seconds embedded, total
    video_pass_finished = Signal()
    attention_ready = Signal(float, object)  # time, (h, w) map or None
    categories_ready = Signal(list)

    def __init__(self, cache_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = Path(cache_dir)
        self.pool = serial_pool("engine")
        self.engine: _Engine | None = None
        self.video: Path | None = None
        self.k = 25
        self.filters: dict[str, Any] = {}
        self._latest = 0
        self._second: int | None = None
        self._in_flight = False
        self._pending = False
        self._similar: Candidate | None = None
        self.feedback: tuple = ()  # FeedbackChoice-like (kind, time, sound_path, offset, second) the ranking learns from
        self.prior_weight: float | None = None  # the common <-> specific dial (None: the model's default)
        self._pass: Worker | None = None
        self._pass_done = 0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_quiet)
        self.last: Recommendation | None = None

    # -- loading -------------------------------------------------------------------------------
    def load(self, model_path: Path, db_dir: Path, device: str = "auto") -> None:
        """Load (or reload) the model and index in the background; ``ready`` or ``load_failed`` follows."""
        self.loading.emit(f"loading model {Path(model_path).name}\u2026")
        self.engine = None
        run_in_pool(load_engine, self._on_loaded, self._on_load_failed, Path(model_path), Path(db_dir),
                    self.cache_dir, device, pool=self.pool, owner=self)

    def _on_loaded(self, engine: _Engine) -> None:
        self.engine = engine
        self.ready.emit(engine.info)
        run_in_pool(lambda: engine.recommender.categories(), self.categories_ready.emit, None, pool=self.pool, owner=self)
        if self.video is not None:
            self._start_pass()
        if self._second is not None:
            self._schedule()

    def _on_load_failed(self, exc: BaseException) -> None:
        log.warning("engine load failed: %s", exc)
        self.load_failed.emit(str(exc))

    @property
    def is_ready(self) -> bool:
        return self.engine is not None

    # -- the video -----------------------------------------------------------------------------
    def set_video(self, path: Path | None) -> None:
        """Switch to a video: restart the background 1-fps embedding pass."""
        if self._pass is not None:
            self._pass.cancel()
            self._pass = None
        self.video = Path(path) if path else None
        self._pass_done = 0
        self._second = None
        if self.engine is not None:
            self.engine.rows, self.engine.rows_video = None, None
            if self.video is not None:
                self._start_pass()

    def _start_pass(self) -> None:
        engine, video = self.engine, self.video
        assert engine is not None and video is not None
        if self._pass is not None:  # e.g. the engine was reloaded: the new pass resumes from the disk cache
            self._pass.cancel()

        def embed(cancel, progress):
            return engine.video_cache.embed_video(video, progress=progress, cancel=cancel)

        def done(rows: np.ndarray) -> None:
            if self.video == video and self.engine is engine:
                engine.rows, engine.rows_video = rows, video
                self._pass_done = len(rows)
                self.video_pass_finished.emit()

        def progress(i: int, n: int) -> None:
            self._pass_done = i
            self.video_pass_progress.emit(i, n)

        self._pass = run_in_pool(embed, done, lambda exc: log.warning("video pass failed: %s", exc),
                                 on_progress=progress, owner=self)

    # -- recommendations -----------------------------------------------------------------------
    def set_filters(self, **filters: Any) -> None:
        """Replace the ranking filters (text, include_categories, per_segment, ...) and re-rank."""
        self.filters = {k: v for k, v in filters.items() if v not in (None, "", [], ())}
        self._resubmit()

    def set_feedback(self, choices, enabled: bool = True) -> None:
        """The designer's choices to learn from (``Document.active_feedback()``); re-rank when they changed."""
        new = tuple(choices) if enabled else ()
        if new != self.feedback:
            self.feedback = new
            if self._similar is None:
                self._resubmit()

    def set_prior_weight(self, weight: float | None) -> None:
        """The weight of the sound prior (the list's dial; None = the model's default); re-rank when it changed.

        The recommender is only touched on the engine thread: each ranking sets it before it runs."""
        weight = None if weight is None else max(0.0, float(weight))
        if weight != self.prior_weight:
            self.prior_weight = weight
            if self._similar is None:  # a sound query does not use the prior
                self._resubmit()

    def set_k(self, k: int) -> None:
        self.k = max(1, int(k))
        self._resubmit()

    def request(self, t: float) -> None:
        """Ask for the list of the second ``t`` falls in; only the latest ask is answered."""
        second = max(0, int(math.floor(t + 1e-6)))
        if second == self._second and self._similar is None and self.last is not None:
            return
        self._similar = None
        self._second = second
        self._latest += 1
        self._schedule()

    def more_like_this(self, candidate: Candidate | None) -> None:
        """Rank by similarity to a sound instead of the frame (until the playhead moves); None: nothing."""
        if candidate is None:
            return
        self._similar = candidate
        self._latest += 1
        self._schedule()

    def search_by_sound(self, path: Path) -> None:
        """Rank by similarity to any sound file (a recording, a dropped file): "more like this" with an
        outside clip as the query, its loudest second (``start_s`` -1) embedded."""
        path = Path(path)
        self.more_like_this(Candidate(sound_id=-1, path=path, name=path.name, category="", start_s=-1.0,
                                      distance=0.0, score=0.0, duration_s=0.0))

    def back_to_frame(self) -> None:
        if self._similar is not None:
            self._similar = None
            self._latest += 1
            self._schedule()

    def _resubmit(self) -> None:
        self._latest += 1
        self._schedule()

    def _schedule(self) -> None:
        """Never two rankings at a time, the newest ask wins, the last ask always runs. Cached seconds
        (a ~1 ms lookup) run at once; after a live embedding or a "more like this" the next one waits
        for the end of a ``DEBOUNCE_MS`` window, so a fast scrub over un-cached seconds costs at most
        one embedding per window."""
        if self._in_flight or self._debounce.isActive():
            self._pending = True
        else:
            self._submit()

    def _on_quiet(self) -> None:
        if self._pending and not self._in_flight:
            self._submit()

    def _submit(self) -> None:
        self._pending = False
        if self.engine is None:
            return
        if self._similar is None and (self.video is None or self._second is None):
            return
        self._in_flight = True
        rid, engine, video, second = self._latest, self.engine, self.video, self._second or 0
        k, filters, similar, feedback = self.k, dict(self.filters), self._similar, self.feedback
        prior_weight = self.prior_weight
        use_cache = second < self._pass_done
        if not use_cache or similar is not None:
            self._debounce.start()  # an embedding is expensive: at most one per window while scrubbing
        run_in_pool(self._rank, self._on_ranked, self._on_rank_failed, rid, engine, video, second, k, filters,
                    similar, use_cache, feedback, prior_weight, pool=self.pool)

    @staticmethod
    def _rank(rid: int, engine: _Engine, video: Path | None, second: int, k: int, filters: dict,
              similar: Candidate | None, use_cache: bool, feedback: tuple = (),
              prior_weight: float | None = None) -> Recommendation:
        t0 = time.perf_counter()
        rec = engine.recommender
        if rec.ranking is not None:  # the dial (None restores the model's default)
            rec.prior_weight = prior_weight
        if similar is not None:
            offset = similar.start_s
            if offset < 0:  # an outside clip: where its sound is
                from engine.api import loudest_second

                offset = loudest_second(similar.path, engine.model.features.sample_rate)
            cands = rec.similar_to_sound(similar.path, offset=offset, k=k, **filters)
            return Recommendation(rid, second, cands, "similar", (time.perf_counter() - t0) * 1e3, similar.name)
        vec, source = None, "live"
        if use_cache:
            if engine.rows_video != video or engine.rows is None or second >= len(engine.rows) \
                    or not np.isfinite(engine.rows[second]).all():
                rows = engine.video_cache.cached(video)
                if rows is not None:
                    engine.rows, engine.rows_video = rows, video
            if engine.rows is not None and engine.rows_video == video and second < len(engine.rows) \
                    and np.isfinite(engine.rows[second]).all():
                vec, source = engine.rows[second], "cache"
        if vec is None:
            from engine.api import read_frame

            frame = read_frame(video, second + engine.model.features.frame_offset)
            vec = engine.model.embed_frames(frame[None])[0]
        if feedback and video is not None:
            fb = feedback_model(engine, video, feedback)
            rejected = {c.sound_path for c in feedback if c.kind == "reject" and c.second == second}
            if rejected:  # "not this" for this very picture: gone from its list
                filters["exclude_files"] = set(filters.get("exclude_files") or ()) | rejected
            cands = fb.rank(rec, np.asarray(vec, np.float32), k, **filters)
            return Recommendation(rid, second, cands, source, (time.perf_counter() - t0) * 1e3, learned=len(fb))
        cands = rec.for_embedding(np.asarray(vec, np.float32), k=k, **filters)
        return Recommendation(rid, second, cands, source, (time.perf_counter() - t0) * 1e3)

    def _on_ranked(self, result: Recommendation) -> None:
        self._in_flight = False
        if result.request_id == self._latest:
            self.last = result
            self.recommendations_ready.emit(result)
        else:
            log.debug("dropped stale recommendation %d (latest %d)", result.request_id, self._latest)
            self._pending = True
        if self._pending and not self._debounce.isActive():
            self._submit()

    def _on_rank_failed(self, exc: BaseException) -> None:
        self._in_flight = False
        self.recommendation_failed.emit(str(exc))
        if self._pending and not self._debounce.isActive():
            self._submit()

    # -- attention -----------------------------------------------------------------------------
    def request_attention(self, t: float) -> None:
        """Compute the attention overlay for the frame at ``t`` (dropped if the engine is not ready)."""
        engine, video = self.engine, self.video
        if engine is None or video is None:
            return

        def attention() -> tuple[float, np.ndarray | None]:
            from engine.api import read_frame

            return t, mean_attention(engine.model.attention_maps(read_frame(video, t)))

        run_in_pool(attention, lambda r: self.attention_ready.emit(*r), None, pool=self.pool, owner=self)

    def shutdown(self) -> None:
        if self._pass is not None:
            self._pass.cancel()
        self._debounce.stop()
        self.pool.waitForDone(3000)
