"""torchrun's variables have one reader, shared by ``run``'s shards and ``train``'s DDP context."""

from __future__ import annotations

import torch

from endobench.distributed_env import LaunchPlace, launch_place
from endobench.runner.shards import Shard, shard_from_env
from endobench.train.distributed import DistContext, setup


def test_a_lone_process_is_rank_0_of_1():
    place = launch_place({})
    assert place == LaunchPlace(rank=0, world_size=1, local_rank=0, local_world_size=1)
    assert place.is_main and not place.distributed


def test_torchrun_variables_are_read_and_local_world_defaults_to_the_world():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    place = launch_place(env)
    assert (place.rank, place.world_size, place.local_rank, place.local_world_size) == (3, 4, 1, 4)
    assert not place.is_main and place.distributed
    assert launch_place({**env, "LOCAL_WORLD_SIZE": "2"}).local_world_size == 2


def test_run_shard_and_train_context_take_the_same_place(monkeypatch):
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    shard, ctx = shard_from_env(), setup("cpu")
    assert (shard.rank, shard.world_size) == (ctx.rank, ctx.world_size) == (0, 1)
    assert shard.is_main and ctx.is_main and not shard.distributed and not ctx.distributed
    assert Shard(rank=1, world_size=2).distributed and not Shard(rank=1, world_size=2).is_main
    other = DistContext(2, 3, 0, torch.device("cpu"), False)
    assert other.distributed and not other.is_main
