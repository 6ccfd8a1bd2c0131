"""Folded inference copies of the frozen towers: BatchNorm folded into the convolutions.

``FoldedNet`` folds and remembers what it read; ``FoldingTrunk`` runs a tower's folded copy in eval
mode without autograd and its own network otherwise. The towers' folds (``FoldedEfficientNet``,
``FoldedAisfx``) are in ``engine.models.towers``.
"""

from __future__ import annotations

import logging
import threading
from abc import ABCMeta, abstractmethod

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

log = logging.getLogger(__name__)

_FOLD_LOCK = threading.Lock()


class FoldedNet:
    """What the folded inference copies of the towers share: each BatchNorm folded into the
    convolution before it, ``conv(x, w * g / s, (b - m) * g / s + beta)`` with ``s = sqrt(var + eps)``
    (``torch.nn.utils.fusion.fuse_conv_bn_weights``), so in eval mode only (running statistics),
    and a record of the modules every folded tensor was read from.

    The folded weights are a snapshot of those modules. ``state()`` reads them again (which module
    sits at each place, their train/eval flags, every tensor's version counter and storage): ``None``
    while any of them is in train mode, else a key that differs from ``key`` once a weight or
    statistic changed in place, was replaced, or moved (device, dtype, memory format). Subclasses
    raise ``ValueError`` for a network they do not cover; they set ``key = self.state()`` last.
    """

    def __init__(self, net: nn.Module) -> None:
        self._net = net
        self._places: list[tuple[nn.Module, str]] = []
        self.key: tuple | None = None

    def _fused(self, parent: nn.Module, conv_name: str, bn_name: str) -> tuple[nn.Conv2d, torch.Tensor, torch.Tensor]:
        """``parent.conv_name`` with ``parent.bn_name`` folded in: the conv and its folded weight and bias (detached)."""
        conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
        self._places += [(parent, conv_name), (parent, bn_name)]
        if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d) or not bn.track_running_stats:
            raise ValueError(f"{conv_name} + {bn_name} is not a Conv2d + BatchNorm2d with running statistics")
        if tuple(conv.dilation) != (1, 1) or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"{conv_name} has dilation, named padding or a padding mode other than zeros")
        w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
        return conv, w.detach(), b.detach()

    def state(self) -> tuple | None:
        """``None`` if a module the fold read is in train mode, else the identity of what it read (see class doc)."""
        if self._net.training:
            return None
        out: list = []
        for parent, name in self._places:
            m = parent._modules.get(name)
            if m is None or m.training:
                return None
            out.append(id(m))
            for d in (m._parameters, m._buffers):
                for t in d.values():
                    if t is not None:
                        out.append((t._version, t.data_ptr(), t.dtype, t.device))
        return tuple(out)


class FoldingTrunk(nn.Module, metaclass=ABCMeta):
    """A tower trunk that runs a folded copy of its network (``make_fold``) in eval mode with autograd
    off (``torch.no_grad``/``inference_mode``: every inference path of the engine), built on first
    use and rebuilt when the weights change; in train mode, or when autograd records, the network
    itself (``unfolded``). The fold stays out of the module tree: not in the state dict, not moved
    by ``.to()``, not copied (a deepcopy or pickle folds again on its first use)."""

    def __init__(self) -> None:
        super().__init__()
        self.__dict__["_fold"] = None  # a FoldedNet, or False when this network cannot be folded

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fold"] = None
        return state

    @abstractmethod
    def make_fold(self) -> FoldedNet:
        """A new folded copy of the current network (``ValueError`` if it cannot be folded)."""

    @abstractmethod
    def unfolded(self, x: torch.Tensor) -> torch.Tensor:
        """The network's own forward."""

    def folded(self) -> FoldedNet | None:
        """The folded network for the current weights, built or rebuilt here; ``None`` while the
        network (or any module the fold reads) is in train mode, or if it cannot be folded."""
        if self.training:
            return None
        fold = self._fold
        if fold is False:
            return None
        if fold is not None:
            state = fold.state()
            if state is None or state == fold.key:
                return None if state is None else fold
        with _FOLD_LOCK:  # (re)build once, also when two threads embed at the same time
            fold = self._fold
            if fold is False:
                return None
            if fold is None or fold.state() != fold.key:
                try:
                    with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable in any mode
                        fold = self.make_fold()
                except ValueError as exc:
                    log.info("%s not folded (%s): its network's own forward is used", type(self).__name__, exc)
                    self.__dict__["_fold"] = False
                    return None
                self.__dict__["_fold"] = fold
        return fold if fold.key is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():  # the fold has no autograd graph of the network's weights
            fold = self.folded()
            if fold is not None:
                return fold(x)
        return self.unfolded(x)
