"""Projection heads P (paper §4): the distance classifier (BCE models) and the contrastive heads.

The contrastive heads are *shared* by the two streams: the paper writes ``z_v = P(E_v(v))`` and
``z_a = P(E_a(a))`` with one ``P`` (§4.3), so one set of weights maps both modalities.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from engine.errors import ConfigError

log = logging.getLogger(__name__)

PROJECTORS = ("distance", "linear", "mlp")


def pair_distance(ev: torch.Tensor, ea: torch.Tensor) -> torch.Tensor:
    """Euclidean distance between matching rows ``(B, D), (B, D) -> (B,)``, safe to differentiate at 0."""
    return (ev.float() - ea.float()).pow(2).sum(dim=-1).clamp_min(1e-12).sqrt()


class DistanceClassifier(nn.Module):
    """``logit = w * dist(ev, ea) + b``: a fully-connected layer on the embedding distance ([2], §4.1).

    ``w`` starts negative so a small distance means "correlated"; the decision boundary
    ``-b / w`` is the learned distance threshold.  One logit with a sigmoid is the two-class
    softmax of the paper (softmax over two logits only sees their difference).
    """

    def __init__(self, init_weight: float = -4.0, init_threshold: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.fc = nn.Linear(1, 1)
        with torch.no_grad():
            # sqrt(2): the distance of two orthogonal unit vectors, where random embeddings start
            self.fc.weight.fill_(init_weight)
            self.fc.bias.fill_(-init_weight * init_threshold)

    @property
    def threshold(self) -> float:
        """The learned distance below which a pair is classified as correlated."""
        return float(-self.fc.bias.detach() / self.fc.weight.detach().squeeze())

    def forward(self, ev: torch.Tensor, ea: torch.Tensor) -> torch.Tensor:
        d = pair_distance(ev, ea)  # (B,)
        return self.fc(d.unsqueeze(-1)).squeeze(-1)  # (B,) logits, > 0 = correlated


class LinearProjector(nn.Module):
    """One fully-connected layer with bias (Table 1b "linear"), shared by both streams."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.fc(e)


class MLPProjector(nn.Module):
    """Two fully-connected layers with bias and a ReLU between (Table 1b "nonlinear"), shared."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.net(e)


def build_projector(kind: str, embed_dim: int, proj_dim: int) -> nn.Module:
    """A projector by name (``ModelCfg.projector``)."""
    if kind == "distance":
        return DistanceClassifier()
    if kind == "linear":
        return LinearProjector(embed_dim, proj_dim)
    if kind == "mlp":
        return MLPProjector(embed_dim, proj_dim)
    raise ConfigError(f"unknown projector {kind!r}; choose from {list(PROJECTORS)}")
