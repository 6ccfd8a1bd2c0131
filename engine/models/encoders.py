"""The two encoders of the paper, used for both streams: baseline (§4.1) and attention (§4.2).

Both map an image-like input ``(B, C, H, W)`` (an RGB frame, or a log-mel spectrogram as a
1-channel image) to an L2-normalised ``(B, embed_dim)`` embedding; ``forward_with_maps`` also
returns the attention maps (one ``(B, h_i, w_i)`` map per level, each summing to 1; ``[]`` for
the baseline).
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod

import torch
from torch import nn
from torch.nn.functional import conv2d, normalize

from engine.errors import ConfigError
from engine.models.blocks import ConvTrunk, init_weights

log = logging.getLogger(__name__)

ENCODERS = ("baseline", "attention")
N_LEVELS = 3  # paper §4.2: local features from n = 3 intermediate blocks


class BaselineEncoder(nn.Module):
    """Conv blocks, global max-pool, FC-ReLU-FC to ``embed_dim``, L2-normalised (after [2], Fig. 2a)."""

    def __init__(self, in_ch: int, channels: tuple[int, ...], embed_dim: int = 128, fc_hidden: int = 512) -> None:
        super().__init__()
        self.trunk = ConvTrunk(in_ch, channels)
        self.fc = nn.Sequential(
            nn.Linear(channels[-1], fc_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(fc_hidden, embed_dim),
        )
        init_weights(self.trunk)

    def forward_with_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        top = self.trunk(x)[-1]  # (B, C, h, w)
        pooled = torch.amax(top, dim=(2, 3))  # (B, C)
        return normalize(self.fc(pooled), dim=-1), []  # (B, D)

    # no frozen tower: the whole network is the head, and its "tower features" are its prepared
    # input (``AVModel.prepare_frames`` / ``prepare_mels``), so train-heads can train it beside a
    # pretrained tower's head (engine.training.mixed)
    head_with_maps = forward_with_maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_maps(x)[0]


class AttentionLevel(nn.Module):
    """Soft attention of one level of local features against the global feature (Jetley et al.).

    Compatibility ``c = score(project(l) + g)`` with 1x1 convolutions, softmax over positions,
    and the attention-weighted sum of the local features ``l``.  Because ``project`` and
    ``score`` are linear, ``c = (u W) l + u (b + g) + u0``: it is evaluated in that factored form,
    which gives the same numbers without materialising ``project(l)`` (a C_l x C_g conv at every
    position, ~1.2 GMAC per 224x224 frame).  Note that the ``g`` term is the same at every
    position, so the softmax cancels it: with this (the paper's) additive compatibility the maps
    depend on the local features only.
    """

    def __init__(self, local_ch: int, global_ch: int) -> None:
        super().__init__()
        # the local feature is projected to g's channels only when they differ (paper §4.2, step 1)
        self.project = nn.Conv2d(local_ch, global_ch, 1) if local_ch != global_ch else None
        self.score = nn.Conv2d(global_ch, 1, 1)

    def forward(self, local: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c_l, h, w = local.shape
        u = self.score.weight.view(1, -1)  # (1, C_g)
        shift = g  # (B, C_g)
        if self.project is not None:
            u_eff = u @ self.project.weight.view(self.project.out_channels, c_l)  # (1, C_l)
            shift = g + self.project.bias  # (B, C_g)
        else:
            u_eff = u
        scores = conv2d(local, u_eff.view(1, c_l, 1, 1))  # (B, 1, h, w)
        scores = scores + (shift @ u.t()).view(b, 1, 1, 1) + self.score.bias.view(1, 1, 1, 1)
        attn = torch.softmax(scores.reshape(b, h * w), dim=-1)  # (B, h*w), sums to 1
        feat = torch.bmm(local.reshape(b, c_l, h * w), attn.unsqueeze(-1)).squeeze(-1)  # (B, C_l)
        return feat, attn.view(b, h, w)


class AttentionEncoder(nn.Module):
    """Conv blocks with soft attention over the last three blocks' local features (paper §4.2).

    Local features ``l_1..l_3`` are the outputs of the last three blocks *before* pooling (as in
    Jetley et al.'s VGG-att, whose last local feature is also the last conv block); the global
    feature ``g`` is the last block's output average-pooled to a vector.  The three attended
    features are concatenated, projected to ``embed_dim`` and L2-normalised.
    """

    def __init__(self, in_ch: int, channels: tuple[int, ...], embed_dim: int = 128) -> None:
        super().__init__()
        if len(channels) < N_LEVELS:
            raise ConfigError(f"the attention encoder needs at least {N_LEVELS} blocks, got channels {channels}")
        self.trunk = ConvTrunk(in_ch, channels)
        local = channels[-N_LEVELS:]
        self.levels = nn.ModuleList(AttentionLevel(c, channels[-1]) for c in local)
        self.project = nn.Linear(sum(local), embed_dim)
        init_weights(self.trunk)

    def forward_with_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = self.trunk(x)[-N_LEVELS:]  # N_LEVELS x (B, C_i, h_i, w_i)
        g = feats[-1].mean(dim=(2, 3))  # (B, C_g) global feature
        attended, maps = [], []
        for level, local in zip(self.levels, feats):
            a_feat, a_map = level(local, g)
            attended.append(a_feat)
            maps.append(a_map)
        g_att = torch.cat(attended, dim=-1)  # (B, sum C_i)
        return normalize(self.project(g_att), dim=-1), maps  # (B, D)

    head_with_maps = forward_with_maps  # as BaselineEncoder's: the prepared input in, no frozen tower

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_maps(x)[0]


def build_encoder(kind: str, in_ch: int, channels: tuple[int, ...], embed_dim: int, fc_hidden: int) -> nn.Module:
    """An encoder by name (``ModelCfg.encoder``)."""
    if kind == "baseline":
        return BaselineEncoder(in_ch, tuple(channels), embed_dim, fc_hidden)
    if kind == "attention":
        return AttentionEncoder(in_ch, tuple(channels), embed_dim)
    raise ConfigError(f"unknown encoder {kind!r}; choose from {list(ENCODERS)}")


# ------------------------------------------------------------------------- pretrained towers
def _signature(fingerprint: str) -> torch.Tensor:
    return torch.tensor(list(bytes.fromhex(fingerprint)), dtype=torch.uint8)


class TowerEncoder(nn.Module, metaclass=ABCMeta):
    """A frozen pretrained tower (engine.models.towers) under a trained head.

    The tower is kept out of the module tree, so its weights are neither trained nor written to
    the model file; ``tower_sig`` (a buffer, part of the model id) records which weights the head
    was trained on, and ``check_tower`` compares it with the installed package's.
    """

    def __init__(self, tower: str) -> None:
        super().__init__()
        from engine.models.towers import build_tower

        self.tower_name = tower
        self.__dict__["tower"] = build_tower(tower)  # not registered: frozen, not saved
        self.register_buffer("tower_sig", _signature(self.tower.fingerprint))

    def _apply(self, fn, recurse: bool = True):  # .to(), .float(), channels_last reach the tower too
        self.__dict__["tower"] = self.__dict__["tower"]._apply(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True) -> TowerEncoder:
        super().train(mode)
        self.tower.eval()  # frozen BatchNorm statistics
        return self

    def check_tower(self, source: str) -> None:
        """``CheckpointError`` unless the installed tower has the weights this head was trained on."""
        from engine.errors import CheckpointError

        installed = _signature(self.tower.fingerprint)
        if not torch.equal(self.tower_sig.cpu(), installed):
            raise CheckpointError(
                f"{source}: its {self.tower_name!r} head was trained on other tower weights than the installed "
                f"package's ({bytes(self.tower_sig.tolist()).hex()} vs {bytes(installed.tolist()).hex()}); "
                "install the package version the model card names, or retrain the heads"
            )

    @torch.no_grad()
    def tower_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.tower(x)

    @abstractmethod
    def head_with_maps(self, feats: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The trained head on the tower's features: ``(embedding, attention maps)``."""

    def forward_with_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.head_with_maps(self.tower_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_maps(x)[0]


class PretrainedVisionEncoder(TowerEncoder):
    """EfficientNet-Lite0's 1280-channel map under the paper's attention (§4.2, one level):
    compatibility of every position with the global feature, softmax, attended sum, projection."""

    def __init__(self, tower: str, embed_dim: int = 128, dropout: float = 0.0) -> None:
        super().__init__(tower)
        from engine.models.towers import EFFNET_CHANNELS

        self.attention = AttentionLevel(EFFNET_CHANNELS, EFFNET_CHANNELS)
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(EFFNET_CHANNELS, embed_dim)

    def head_with_maps(self, feats: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = feats.float()
        g = feats.mean(dim=(2, 3))  # (B, C) global feature
        attended, attn = self.attention(feats, g)  # (B, C), (B, h, w)
        return normalize(self.project(self.drop(attended)), dim=-1), [attn]


class PretrainedAudioEncoder(TowerEncoder):
    """aisfx's 512-d embedding under a linear (or one-hidden-layer) head."""

    def __init__(self, tower: str, embed_dim: int = 128, dropout: float = 0.0, hidden: int = 0) -> None:
        super().__init__(tower)
        from engine.models.towers import AISFX_DIM

        self.drop = nn.Dropout(dropout)
        if hidden:
            self.project: nn.Module = nn.Sequential(nn.Linear(AISFX_DIM, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, embed_dim))
        else:
            self.project = nn.Linear(AISFX_DIM, embed_dim)

    def head_with_maps(self, feats: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return normalize(self.project(self.drop(feats.float())), dim=-1), []


def build_stream_encoder(cfg, stream: str) -> nn.Module:
    """The vision or audio encoder of a ``ModelCfg``: the scratch CNN or a head on a pretrained tower."""
    from engine.models.towers import AUDIO_TOWERS, VISION_TOWERS

    if stream == "vision":
        if cfg.vision_tower not in VISION_TOWERS:
            raise ConfigError(f"unknown vision tower {cfg.vision_tower!r}; choose from {list(VISION_TOWERS)}")
        if cfg.vision_tower != "scratch":
            return PretrainedVisionEncoder(cfg.vision_tower, cfg.embed_dim, cfg.head_dropout)
        return build_encoder(cfg.encoder, 3, cfg.vision_channels, cfg.embed_dim, cfg.fc_hidden)
    if cfg.audio_tower not in AUDIO_TOWERS:
        raise ConfigError(f"unknown audio tower {cfg.audio_tower!r}; choose from {list(AUDIO_TOWERS)}")
    if cfg.audio_tower != "scratch":
        return PretrainedAudioEncoder(cfg.audio_tower, cfg.embed_dim, cfg.head_dropout, cfg.head_hidden)
    return build_encoder(cfg.encoder, 1, cfg.audio_channels, cfg.embed_dim, cfg.fc_hidden)
