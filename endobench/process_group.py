"""torchrun's process group: the one place it is created and destroyed, for ``run`` and ``train``.

A sharded run (:func:`endobench.runner.shards.open_shard`) and a DDP training
(:func:`endobench.train.distributed.setup`) both join the group here: gloo on the CPU, NCCL on a
GPU (this process's local rank's).

One import must come first. ``torch.distributed.nn`` keeps a reference to the default group when
it is first imported while the group exists (timm imports it, so building any model does). The
group then outlives :func:`close_group`: its gloo threads still run when the interpreter exits,
and C++ aborts the process ("terminate called without an active exception"), so a rank that has
finished its work is reported as failed, at random, whenever it ends before the other ranks.
Importing it before the group exists leaves nothing behind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported when a group is joined, not with the package
    import torch


def open_group(device: torch.device, timeout: timedelta | None = None) -> str:
    """Create the default process group from torchrun's variables: NCCL for a CUDA device (which
    becomes the current one first), gloo otherwise.

    Args:
        device: This process's device.
        timeout: How long a collective waits for the other ranks (torch's default when None).

    Returns:
        The backend used.
    """
    import torch
    import torch.distributed as dist
    import torch.distributed.nn  # noqa: F401  (before the group exists: see the module docstring)

    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    options = {} if timeout is None else {"timeout": timeout}
    dist.init_process_group(backend=backend, **options)
    return backend


def close_group() -> None:
    """Destroy the default process group, if there is one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
