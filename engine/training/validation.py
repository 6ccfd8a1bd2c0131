"""The validation metric watched by LR decay and early stopping.

BCE models: correlation accuracy on fixed balanced validation pairs. Contrastive models: the mean
of top-1/5/10 recall of each frame's aligned clip among a fixed validation search list; their
distance threshold (``model.threshold``) is calibrated on the validation pairs first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.config import TrainCfg
from engine.data.cache import FeatureCache
from engine.data.pairs import eval_pairs, search_list
from engine.errors import DatasetError
from engine.evaluation.embed import encode_rows
from engine.evaluation.metrics import best_threshold, correlation_accuracy, pairwise_distances, ranking_metrics

log = logging.getLogger(__name__)

VAL_LIST_SIZE = 500  # target size of the validation search list (per_video grows for few long videos)


@dataclass(frozen=True)
class ValResult:
    corr_acc: float
    recall: dict[int, float]
    metric: float
    threshold: float | None  # contrastive models: the calibrated distance threshold


class Validator:
    """Fixed validation pairs and search list of a dataset; ``__call__`` scores a model on them."""

    def __init__(self, cache: FeatureCache, cfg: TrainCfg, device: torch.device, list_size: int = VAL_LIST_SIZE) -> None:
        val = cache.indices("val")
        if val.size == 0:
            raise DatasetError(
                f"{cache.root}: the dataset has no validation seconds; prepare more videos (split is by video) or change the split ratios"
            )
        self.cache, self.cfg, self.device = cache, cfg, device
        kw = dict(skip_silent=cfg.skip_silent, silence_rms=cfg.silence_rms)
        self.pairs = eval_pairs(cache, "val", cfg.val_pairs, seed=cfg.seed + 1, negatives=cfg.negatives, min_gap_s=cfg.min_gap_s, **kw)
        n_videos = np.unique(cache.video_ids[val]).size
        per_video = max(1, math.ceil(list_size / n_videos))
        self.rows = search_list(cache, "val", per_video=per_video, seed=cfg.seed + 2, **kw)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module) -> ValResult:
        ev, ea = encode_rows(model, self.cache, self.pairs[:, 0], self.pairs[:, 1], self.device)
        labels = self.pairs[:, 2]
        threshold = None
        if model.cfg.contrastive:
            threshold, _ = best_threshold((ev - ea).norm(dim=1).numpy(), labels)
            model.threshold.fill_(threshold)
        logits = model.correlation_logits(ev.to(self.device), ea.to(self.device)).float().cpu().numpy()
        corr = correlation_accuracy(logits, labels)
        v, a = encode_rows(model, self.cache, self.rows, self.rows, self.device)
        ranks = ranking_metrics(pairwise_distances(v.numpy(), a.numpy()), np.arange(len(self.rows)))
        recall = {int(k): float(x) for k, x in ranks["sample"]["topk"].items()}
        metric = float(np.mean(list(recall.values()))) if model.cfg.contrastive else corr
        return ValResult(corr, recall, metric, threshold)
