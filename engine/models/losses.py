"""Loss functions of the paper (§4.2, §4.3); each owns how the projector turns embeddings into logits.

``LOSSES`` maps a ``ModelCfg.loss`` name to a loss module whose ``forward(ev, ea, projector,
labels)`` returns ``(loss, logits)``: logits ``(B,)`` for the BCE losses, ``None`` for the
contrastive ones (their batch is N aligned pairs; the other N-1 audios are the negatives).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits, cross_entropy, normalize

from engine.config import ModelCfg
from engine.errors import ConfigError
from engine.models.projectors import pair_distance

log = logging.getLogger(__name__)


def margin_contrastive(dist: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Eq. 1, averaged: ``y * d + (1 - y) * max(0, m - d)`` with the (unsquared) Euclidean distance."""
    y = labels.float()
    return (y * dist + (1.0 - y) * torch.clamp(margin - dist, min=0.0)).mean()


def similarity_logits(zv: torch.Tensor, za: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cosine similarity of every frame with every audio in the batch over ``tau``: ``(N, N)``."""
    zv = normalize(zv.float(), dim=-1)
    za = normalize(za.float(), dim=-1)
    return zv @ za.t() / temperature  # row i: frame i against audios 0..N-1


def _check_batch(n: int) -> None:
    if n < 2:
        raise ValueError(f"a contrastive loss needs at least 2 pairs per batch (the negatives), got {n}")


def info_nce(zv: torch.Tensor, za: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of picking the aligned audio ``a_i`` among the batch for each frame ``v_i``."""
    _check_batch(zv.shape[0])
    logits = similarity_logits(zv, za, temperature)  # (N, N)
    target = torch.arange(logits.shape[0], device=logits.device)
    return cross_entropy(logits, target)


def nt_xent(zv: torch.Tensor, za: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. 2, averaged: ``-log(exp(s_ii) / sum_{k != i} exp(s_ik))`` — the positive is NOT in the denominator."""
    _check_batch(zv.shape[0])
    logits = similarity_logits(zv, za, temperature)  # (N, N)
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    positive = logits.diagonal()  # (N,)
    negatives = torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=-1)  # (N,)
    return (negatives - positive).mean()


class BCELoss(nn.Module):
    """Binary cross-entropy on the distance classifier's logit (models 1-2)."""

    contrastive = False

    def forward(self, ev: torch.Tensor, ea: torch.Tensor, projector: nn.Module, labels: torch.Tensor | None):
        if labels is None:
            raise ValueError(f"{type(self).__name__} needs labels (1 = correlated pair, 0 = not)")
        logits = projector(ev, ea)  # (B,)
        return binary_cross_entropy_with_logits(logits, labels.float()), logits


class BCEMarginLoss(BCELoss):
    """``L = L_bce + L_m`` (model 3, and ``ft``): BCE plus the margin contrastive loss of Eq. 1."""

    def __init__(self, margin: float = 0.1) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, ev: torch.Tensor, ea: torch.Tensor, projector: nn.Module, labels: torch.Tensor | None):
        bce, logits = super().forward(ev, ea, projector, labels)
        return bce + margin_contrastive(pair_distance(ev, ea), labels, self.margin), logits


class _ContrastiveLoss(nn.Module):
    contrastive = True
    objective: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]  # set by subclasses

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, ev: torch.Tensor, ea: torch.Tensor, projector: nn.Module, labels: torch.Tensor | None):
        if labels is not None and not bool((labels == 1).all()):
            raise ValueError("a contrastive batch holds aligned pairs only: pass labels=None (negatives come from the batch)")
        return self.objective(projector(ev), projector(ea), self.temperature), None


class InfoNCELoss(_ContrastiveLoss):
    """InfoNCE over the batch (models 4-5)."""

    objective = staticmethod(info_nce)


class NTXentLoss(_ContrastiveLoss):
    """NT-Xent, Eq. 2 (models 6-7)."""

    objective = staticmethod(nt_xent)


LOSSES: dict[str, type[nn.Module]] = {
    "bce": BCELoss,
    "bce_margin": BCEMarginLoss,
    "infonce": InfoNCELoss,
    "ntxent": NTXentLoss,
}


def build_loss(cfg: ModelCfg) -> nn.Module:
    """The loss module of a model config; checks that the projector fits the loss."""
    if cfg.loss not in LOSSES:
        raise ConfigError(f"unknown loss {cfg.loss!r}; choose from {sorted(LOSSES)}")
    contrastive = cfg.loss in ("infonce", "ntxent")
    if contrastive and cfg.projector == "distance":
        raise ConfigError(f"loss {cfg.loss!r} needs a 'linear' or 'mlp' projector, not the distance classifier")
    if not contrastive and cfg.projector != "distance":
        raise ConfigError(f"loss {cfg.loss!r} needs the 'distance' projector (a classifier), got {cfg.projector!r}")
    if cfg.loss == "bce":
        return BCELoss()
    if cfg.loss == "bce_margin":
        return BCEMarginLoss(cfg.margin)
    return LOSSES[cfg.loss](cfg.temperature)
