"""torchrun's environment: which process this is, among how many.

``torchrun --nproc_per_node N`` starts N processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``
and ``LOCAL_WORLD_SIZE`` set; a process started alone has none of them and is rank 0 of 1. This
module is the one reader of those variables, for ``run`` (:mod:`endobench.runner.shards`) and
``train`` (:mod:`endobench.train.distributed`) alike. It imports nothing of torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class RankRoles:
    """The roles that follow from a ``rank`` among ``world_size`` processes (a mixin)."""

    rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        """True for rank 0, the process that writes the shared files and reports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when several processes work together."""
        return self.world_size > 1


@dataclass(frozen=True)
class LaunchPlace(RankRoles):
    """This process's place as torchrun launched it (alone: rank 0 of 1).

    Attributes:
        rank: Global rank.
        world_size: Processes in all.
        local_rank: Rank on this node: the GPU a plain ``cuda`` means.
        local_world_size: Processes on this node (they share its CPU cores).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1


def launch_place(environ: Mapping[str, str] | None = None) -> LaunchPlace:
    """Read torchrun's variables (``os.environ`` unless ``environ`` is given).

    Args:
        environ: The variables to read, for tests; None reads this process's environment.

    Returns:
        The rank, world size, local rank and local world size; ``LOCAL_WORLD_SIZE`` defaults to the
        world size (one node), the others to a lone process's values.
    """
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1"))
    return LaunchPlace(
        rank=int(env.get("RANK", "0")),
        world_size=world,
        local_rank=int(env.get("LOCAL_RANK", "0")),
        local_world_size=int(env.get("LOCAL_WORLD_SIZE", str(world))),
    )
