"""Load what ranking needs in one call: the model, its sound index, the recommender and its video cache.

The app, ``foley-engine recommend`` and the library evaluation all start here, so they fail alike:
``CheckpointError`` when there is no model or the file is not a readable model, ``SoundIndexError``
when there is no index or it was built by another model (its message says how to fix it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import CheckpointError
from engine.library.recommender import Recommender
from engine.library.sound_index import SoundIndex
from engine.models import AVModel

NO_MODEL = "no model given and the shipped model resources/models/default.pt is not installed; pass a model file"


def resolve_device(choice: str) -> str:
    """``'auto'`` (or ``''``) -> ``'cuda'`` when a GPU is available, else ``'cpu'``; anything else as given."""
    import torch

    if choice in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def load_model(path: Path | None = None, device: str = "cpu") -> AVModel:
    """A model file (default: the shipped model) in eval mode on ``device`` (``'auto'``: the GPU if any)."""
    from engine.library.paths import default_model_path

    path = path if path is not None else default_model_path()
    if path is None:
        raise CheckpointError(NO_MODEL)
    return AVModel.load(Path(path), map_location=resolve_device(device)).eval()


@dataclass
class LoadedEngine:
    """A model with its index and recommender; ``close()`` (or ``with``) closes the index."""

    model: AVModel
    recommender: Recommender
    device: str  # where the model runs: 'cpu', 'cuda', ...
    load_s: float  # seconds the load took

    @property
    def index(self) -> SoundIndex:
        """The open index (the recommender's: ``Recommender.refresh`` may have reopened it)."""
        return self.recommender.index

    @property
    def video_cache(self):  # -> VideoEmbeddingCache | None
        return self.recommender.video_cache

    def close(self) -> None:
        self.recommender.index.close()

    def __enter__(self) -> LoadedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_engine(model_path: Path | None = None, db_dir: Path | None = None, cache_dir: Path | None = None, *,
                device: str = "cpu", prior_weight: float | None = None, cpu_threads: int | None = None) -> LoadedEngine:
    """Load the model (default: the shipped one), open its index read-only (default: the user's) and build
    the recommender, with a video embedding cache in ``cache_dir`` (``None``: no cache).

    ``prior_weight``: the common <-> specific dial (``None``: the model's default). ``cpu_threads``: torch's
    intra-op threads when the model runs on the CPU (``None``: torch's default). Nothing is left open on failure.
    """
    from engine.library.paths import default_db_dir

    t0 = time.perf_counter()
    dev = resolve_device(device)
    if dev == "cpu" and cpu_threads is not None:
        import torch

        torch.set_num_threads(cpu_threads)
    model = load_model(model_path, dev)
    index = SoundIndex.open(Path(db_dir) if db_dir is not None else default_db_dir(), model.model_id, readonly=True)
    try:
        rec = Recommender(model, index, Path(cache_dir) if cache_dir is not None else None, prior_weight=prior_weight)
    except BaseException:
        index.close()
        raise
    return LoadedEngine(model, rec, dev, time.perf_counter() - t0)
