"""Process-group helpers: the same training code runs alone or under ``torchrun`` (DDP).

``torchrun --nproc_per_node N`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (read by
:func:`endobench.distributed_env.launch_place`); :mod:`endobench.process_group` joins the group
(gloo on CPU, NCCL on GPU). Only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from endobench.devices import resolve_device
from endobench.distributed_env import RankRoles, launch_place
from endobench.process_group import close_group, open_group


@dataclass(frozen=True)
class DistContext(RankRoles):
    """Where this process stands: rank, world size and the device it trains on.

    ``is_main`` (rank 0 writes the files) and ``distributed`` come from
    :class:`endobench.distributed_env.RankRoles`.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialised_here: bool


def setup(device: str = "auto") -> DistContext:
    """Join the process group when launched by torchrun (or reuse an existing one).

    Args:
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, resolved by
            :func:`endobench.devices.resolve_device` (a plain ``cuda`` means this process's local
            rank's GPU).

    Raises:
        ConfigError: A device that is not known or not available here.
    """
    place = launch_place()
    world_size, local_rank = place.world_size, place.local_rank
    if dist.is_available() and dist.is_initialized():
        dev = resolve_device(device, local_rank)
        return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, dev, False)
    if world_size <= 1:
        return DistContext(0, 1, 0, resolve_device(device), False)
    dev = resolve_device(device, local_rank)
    open_group(dev)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, dev, True)


def teardown(ctx: DistContext) -> None:
    """Leave the process group if :func:`setup` created it."""
    if ctx.initialised_here:
        close_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op alone)."""
    if ctx.distributed:
        dist.barrier()


def all_sum(ctx: DistContext, values: list[float]) -> list[float]:
    """Sum a few numbers over all ranks (float64 on the training device)."""
    if not ctx.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast_flag(ctx: DistContext, flag: bool) -> bool:
    """Rank 0's boolean, on every rank (so all ranks take the same branch)."""
    if not ctx.distributed:
        return flag
    tensor = torch.tensor([1 if flag else 0], device=ctx.device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


def sync_buffers(ctx: DistContext, model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers at the start of each forward pass, so after the last step of an epoch
    the ranks' running statistics differ by that step; validation and checkpoints use rank 0's.
    """
    if not ctx.distributed:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def rng_state() -> dict[str, Any]:
    """Every random generator's state (torch CPU and CUDA, numpy, Python)."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's generators."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    random.seed(seed)
