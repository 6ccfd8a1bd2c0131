"""Device choice and PyTorch DDP set-up for runs started by ``torchrun`` (gloo on CPU, NCCL on GPU)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from engine.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def choose_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` = CUDA when available (the local rank's GPU), else CPU; chosen once per run."""
    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {name!r}; choose auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def init_distributed(device_name: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    info = DistInfo(rank, world, local)
    device = choose_device(device_name, local)
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        log.info("joined process group: rank %d of %d (%s)", rank, world, backend)
    return info, device


def shutdown_distributed() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_floats(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Rank 0's values on every rank (validation is computed on rank 0 only)."""
    if not info.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return t.tolist()


def all_mean(value: float, count: int, info: DistInfo, device: torch.device) -> tuple[float, int]:
    """Sum and count of a per-rank quantity over all ranks: returns ``(global_sum, global_count)``."""
    if not info.enabled:
        return value, count
    t = torch.tensor([value, float(count)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t[0]), int(t[1])


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
