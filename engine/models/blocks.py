"""Convolutional building blocks shared by both encoders (paper §4.1, Fig. 2)."""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


class ConvBlock(nn.Sequential):
    """Two conv3x3 layers, each followed by BatchNorm and ReLU (the pooling is the trunk's job)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class ConvTrunk(nn.Module):
    """A stack of ``ConvBlock``s with a 2x2 max-pool between consecutive blocks.

    ``forward`` returns every block's output *before* its pooling, which is where the attention
    encoder takes its local features (paper §4.2); the last block is left unpooled because both
    encoders reduce it globally anyway (a 2x2 max-pool before a global max-pool changes nothing).
    """

    def __init__(self, in_ch: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        if not channels:
            raise ValueError("a trunk needs at least one block")
        widths = (in_ch, *channels)
        self.blocks = nn.ModuleList(ConvBlock(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.pool = nn.MaxPool2d(2)
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            if i:
                x = self.pool(x)  # (B, C, H/2, W/2)
            x = block(x)
            outs.append(x)  # (B, C_i, H_i, W_i), before pooling
        return outs


def init_weights(module: nn.Module) -> None:
    """He init for convs (as torchvision's VGG), unit BatchNorm, PyTorch default for linear layers."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
