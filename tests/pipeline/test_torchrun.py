"""``torchrun -m endobench run`` with 2 CPU ranks writes the run folder one process writes, and resumes.

The sharded runs are real ``python -m torch.distributed.run --standalone --nproc_per_node 2 -m
endobench run`` launches (gloo); the reference is a single-process run of the same configuration.
The model is ``brp_lite`` with its shipped weights at 64 px (real masks, a short run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import copy_sample
from typer.testing import CliRunner

from endobench.cli import app
from endobench.runner.shards import Shard, shard_from_env
from endobench.writers.journal import RANK_JOURNAL, merge_rank_journals, read_journals
from endobench.writers.run_folder import RunFolder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NAME = "sharded"
IMAGES = 12  # 10 ClinicDB + 2 Kvasir pairs: two sets, the shards cross the set boundary
#: Run in every torchrun rank: rank 1 dies (as if killed) at its third mask, once rank 0 has
#: journaled its whole share (so what is done before the resume does not depend on timing).
DYING_RANK = """
import os, time
from pathlib import Path
if os.environ.get("RANK") == "1":
    import endobench.writers.run_folder as _run_folder
    _real_write, _written = _run_folder.write_mask, []

    def _dying_write(path, mask):
        if len(_written) >= 2:
            journal = Path(path).parents[3] / ".journal.rank0.jsonl"
            for _ in range(1200):
                if journal.is_file() and journal.read_text().count("\\n") >= 6:
                    break
                time.sleep(0.05)
            os._exit(3)
        _written.append(path)
        return _real_write(path, mask)

    _run_folder.write_mask = _dying_write
"""


@pytest.fixture(scope="module")
def inputs(sample_root, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("shard-inputs")
    copy_sample(sample_root, root / "clinic", "clinicdb", 10)
    copy_sample(sample_root, root / "kv", "kvasir", 2)
    return [root / "clinic", root / "kv"]


def _run_args(inputs: list[Path], out: Path, *extra: str) -> list[str]:
    args = ["run", "--model", "brp_lite", "--size", "64", "--workers", "0", "--threads", "1"]
    args += ["--warmup", "1", "--no-progress", "--out", str(out), "--name", NAME, *extra]
    for folder in inputs:
        args += ["--images", str(folder)]
    return args


@pytest.fixture(scope="module")
def single(inputs, tmp_path_factory) -> Path:
    """The reference: the same command line in one process."""
    out = tmp_path_factory.mktemp("single")
    done = CliRunner().invoke(app, _run_args(inputs, out))
    assert done.exit_code == 0, done.output
    return out / NAME


def _torchrun(inputs: list[Path], out: Path, *extra: str, site: Path | None = None):
    args = _run_args(inputs, out, *extra)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", "-m", "endobench", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def _files(run_dir: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob(pattern))}


def _run_json(run_dir: Path) -> dict:
    info = json.loads((run_dir / "run.json").read_text())
    for key in ("created", "finished"):
        info.pop(key)
    # Where it went, whether this session resumed it, and how the cores were split (each rank
    # splits its share of them: timing conditions, recorded in timing.json).
    for key in ("out", "resume", "threads", "num_workers", "writers"):
        info["config"].pop(key, None)
    info["environment"].pop("git_commit", None)  # the checkout may gain commits meanwhile
    return info


def _assert_same_run(run_dir: Path, single: Path) -> None:
    """Same masks (bytes), scores (JSON, CSV), manifest and run.json; no rank journal left."""
    masks = _files(run_dir, "*_mask.jpg")
    assert len(masks) == IMAGES
    assert masks == _files(single, "*_mask.jpg")
    assert len(_files(run_dir, "scores/*")) == 6
    assert _files(run_dir, "scores/*") == _files(single, "scores/*")
    assert (run_dir / "manifest.json").read_text() == (single / "manifest.json").read_text()
    assert _run_json(run_dir) == _run_json(single)
    assert _run_json(run_dir)["status"] == "complete"
    assert not list(run_dir.glob(RANK_JOURNAL.format(rank="*")))
    assert len(read_journals(run_dir)) == IMAGES
    assert [p.name for p in run_dir.parent.iterdir()] == [NAME]  # one run folder


@pytest.mark.slow
def test_two_cpu_ranks_write_the_single_process_run_folder(inputs, single, tmp_path):
    done = _torchrun(inputs, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / NAME
    _assert_same_run(run_dir, single)
    timing = json.loads((run_dir / "timing.json").read_text())
    ranks = timing["distributed"]["ranks"]
    assert timing["distributed"]["world_size"] == 2 and timing["distributed"]["backend"] == "gloo"
    assert [r["rank"] for r in ranks] == [0, 1]
    assert [r["images"] for r in ranks] == [6, 6]  # image i on rank i % 2
    assert [r["fps"]["images_timed"] for r in ranks] == [6, 6]
    assert timing["end_to_end"]["images"] == IMAGES
    assert timing["fps"]["images_timed"] == IMAGES

    # Rank 0's refusal to overwrite the folder stops every rank with the same one-line error.
    refused = _torchrun(inputs, tmp_path)
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 2 and len(set(errors)) == 1 and "--resume" in errors[0]
    assert _files(run_dir, "*_mask.jpg") == _files(single, "*_mask.jpg")


@pytest.mark.slow
def test_a_killed_sharded_run_resumes_under_torchrun_or_alone(inputs, single, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(DYING_RANK)
    killed = _torchrun(inputs, tmp_path / "out", site=site)
    assert killed.returncode != 0
    run_dir = tmp_path / "out" / NAME
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    assert (run_dir / RANK_JOURNAL.format(rank=1)).is_file()
    done_before = len(read_journals(run_dir))
    assert 6 <= done_before <= 8  # rank 0's share, and at most the two masks rank 1 wrote
    alone = tmp_path / "alone" / NAME
    shutil.copytree(run_dir, alone)

    resumed = _torchrun(inputs, tmp_path / "out", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same_run(run_dir, single)
    ranks = json.loads((run_dir / "timing.json").read_text())["distributed"]["ranks"]
    assert sum(r["images"] for r in ranks) == IMAGES - done_before  # the rest, not all

    # The same interrupted folder resumed by one process (another world size) reads the rank
    # journals too, and folds them into its journal.
    done = CliRunner().invoke(app, _run_args(inputs, alone.parent, "--resume"))
    assert done.exit_code == 0, done.output
    _assert_same_run(alone, single)
    timing = json.loads((alone / "timing.json").read_text())
    assert "distributed" not in timing and timing["end_to_end"]["images"] == IMAGES - done_before


def test_sharding_is_a_deterministic_partition_across_sets():
    manifest = {
        "a": [{"name": f"a{i}"} for i in range(5)],
        "b": [{"name": f"b{i}"} for i in range(4)],
    }
    shares = [Shard(rank=r, world_size=3).select(manifest) for r in range(3)]
    names = [[e["name"] for s in share.values() for e in s] for share in shares]
    assert names == [["a0", "a3", "b1"], ["a1", "a4", "b2"], ["a2", "b0", "b3"]]
    assert all(set(share) == {"a", "b"} for share in shares)
    assert shares[1]["a"][0] is manifest["a"][1]  # the same entries: sizes filled in place
    assert Shard().select(manifest) == manifest


def test_rank_and_world_come_from_torchruns_environment():
    env = {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    shard = shard_from_env(env)
    assert (shard.rank, shard.world_size, shard.local_rank, shard.local_world_size) == (3, 4, 1, 2)
    assert shard.distributed and not shard.is_main
    assert shard_from_env({}) == Shard()
    assert Shard().main_result(lambda: 7) == 7 and Shard().gather(7) == [7]


def test_rank_journals_are_read_together_and_merged(tmp_path):
    folder = RunFolder(tmp_path)
    with folder.journal_writer() as journal:
        journal({"set": "s", "name": "x", "ms": 1.0})
    for rank, name in [(0, "y"), (1, "z"), (10, "w")]:
        folder.journal_rank = rank
        with folder.journal_writer() as journal:
            journal({"set": "s", "name": name, "ms": 2.0})
    (tmp_path / RANK_JOURNAL.format(rank=1)).open("a").write('{"set": "s", "na')  # torn
    folder.journal_rank = None
    assert set(folder.read_journal()) == {("s", n) for n in "xyzw"}
    assert merge_rank_journals(tmp_path) == 3
    assert not list(tmp_path.glob(RANK_JOURNAL.format(rank="*")))
    assert set(read_journals(tmp_path)) == {("s", n) for n in "xyzw"}
    assert folder.merge_journals() == 0
