"""Leaving torchrun's process group stops its threads, whatever was imported while it existed.

Regression: timm imports ``torch.distributed.nn``; first imported while the group exists, it kept
the group alive after ``destroy_process_group``. A rank then exited with gloo's threads still
finishing collectives, and C++ aborted it ("terminate called without an active exception"): a
sharded run that had written everything was reported failed, about once in twenty launches.
Here the threads are looked at directly, so the check is deterministic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

#: Each rank joins the group the way ``run`` or ``train`` does, imports timm and builds a model
#: inside it (what every run and training does), runs a collective, leaves, and writes the names
#: of the threads still alive to ``threads.<rank>`` (one file each: the ranks share stdout).
RANK_SCRIPT = textwrap.dedent(
    """
    import os, sys

    def threads():
        names = []
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/comm") as comm:
                    names.append(comm.read().strip())
            except OSError:
                pass
        return names

    def work():
        import timm  # noqa: F401
        from endobench.models import create_model
        create_model("brp_lite")

    if sys.argv[1] == "run":
        from endobench.runner.shards import open_shard
        with open_shard("cpu") as shard:
            work()
            assert shard.gather(shard.rank) == [0, 1]
    else:
        from endobench.train import distributed as D
        ctx = D.setup("cpu")
        work()
        assert D.all_sum(ctx, [1.0]) == [2.0]
        D.teardown(ctx)
    with open(os.path.join(sys.argv[2], "threads." + os.environ["RANK"]), "w") as out:
        out.write("\\n".join(threads()))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
@pytest.mark.parametrize("path", ["run", "train"])
def test_no_gloo_thread_outlives_the_group(path, tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(script), path, str(tmp_path)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        names = (tmp_path / f"threads.{rank}").read_text().splitlines()
        assert not [name for name in names if "gloo" in name], f"rank {rank}: {names}"
