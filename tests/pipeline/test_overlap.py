"""The overlapped pipeline (writer threads, scoring processes) writes exactly what the sequential one does."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import copy_sample

import endobench.runner.pipeline as pipeline
from endobench.errors import OutputError
from endobench.runner import RunConfig, run_benchmark
from endobench.runner.conditions import plan_threads, thread_split
from endobench.runner.score_pool import ScorePool
from endobench.runner.scoring import score_image
from endobench.runner.writer_pool import OutputWriter

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def overlap_runs(sample_root, tmp_path_factory) -> dict[str, Path]:
    """The bundled sample (Kvasir pairs of odd sizes, ClinicDB pairs, a negative folder) run with
    the shipped brp_lite weights twice: sequential (no writer thread, scored in-process) and
    overlapped (writer threads, two scoring processes, a decoding worker)."""
    root = tmp_path_factory.mktemp("overlap")
    copy_sample(sample_root, root / "kv", "kvasir", 4)
    copy_sample(sample_root, root / "clinic", "clinicdb", 4)
    negatives = root / "neg"
    negatives.mkdir()
    for image in sorted((root / "clinic" / "images").iterdir())[:2]:
        (negatives / image.name).write_bytes(image.read_bytes())
    runs = {}
    original = pipeline._score_pool
    for name, writers in [("sequential", 0), ("overlapped", 2)]:
        config = RunConfig(
            model="brp_lite",
            weights="default",
            images=[str(root / "kv"), str(root / "clinic")],
            negatives=[str(negatives)],
            out=str(root / "runs"),
            name=name,
            num_workers=1 if writers else 0,
            writers=writers,
            threads=1,
            warmup=0,
            save_prob=True,
            progress=False,
        )

        def score_pool(folder, manifest, scored, config, shard, processes=2 if writers else 0):
            pool = original(folder, manifest, scored, config, shard)
            pool.close()
            kinds = {s.name: not s.positive_frames for s in scored}
            return ScorePool(folder.path, manifest, kinds, config.save_prob, processes)

        pipeline._score_pool = score_pool
        try:
            runs[name] = run_benchmark(config).run_dir
        finally:
            pipeline._score_pool = original
    return runs


def _files(run_dir: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.glob(pattern))}


def test_masks_and_probability_maps_are_byte_identical(overlap_runs):
    sequential, overlapped = overlap_runs["sequential"], overlap_runs["overlapped"]
    for pattern in ["EndoCV2021/segmentation/*/*_mask.jpg", "probabilities/*/*"]:
        expected = _files(sequential, pattern)
        assert expected and _files(overlapped, pattern) == expected


def test_every_score_is_byte_identical(overlap_runs):
    expected = _files(overlap_runs["sequential"], "scores/*")
    assert len(expected) >= 6  # three sets: json, csv, standard json each
    assert _files(overlap_runs["overlapped"], "scores/*") == expected
    neg = json.loads((overlap_runs["overlapped"] / "scores" / "neg.json").read_text())
    assert neg["detection"]["n_negative_frames"] == 2


def test_journal_lines_come_in_inference_order_with_the_same_detection_scores(overlap_runs):
    def lines(run_dir: Path) -> list[tuple[str, str, float]]:
        text = (run_dir / ".journal.jsonl").read_text().splitlines()
        return [(e["set"], e["name"], e["max_prob"]) for e in map(json.loads, text)]

    assert lines(overlap_runs["overlapped"]) == lines(overlap_runs["sequential"])


def test_timing_records_the_writer_threads(overlap_runs):
    timing = json.loads((overlap_runs["overlapped"] / "timing.json").read_text())
    split = timing["conditions"]["thread_split"]
    # Two asked for; at most the cores torch's one thread leaves.
    assert split["writer_threads"] == min(2, split["usable_cores"] - 1)
    assert split["torch_threads"] == 1 and split["oversubscribed"] is False


def _fake_finish(output, index, height, width):
    probability = np.full((height, width), output[index], dtype=np.float32)
    return probability, probability > 0.5


def test_writer_journals_in_order_and_only_after_each_write():
    written: list[str] = []
    journal: list[dict] = []
    lock = threading.Lock()

    def write(set_name, name, mask, probability):
        time.sleep(0.02 if int(name) % 3 == 0 else 0.001)  # later images finish first
        with lock:
            written.append(name)

    def append(line):
        assert line["name"] in written  # the file is in place before its line
        journal.append(dict(line))

    outputs = np.linspace(0, 1, 12, dtype=np.float32)
    with OutputWriter(_fake_finish, write, append, False, threads=3) as writer:
        for i in range(12):
            writer.submit("s", str(i), outputs, i, (2, 3), {"set": "s", "name": str(i)})
    assert [line["name"] for line in journal] == [str(i) for i in range(12)]
    assert [line["max_prob"] for line in journal] == [float(v) for v in outputs]


def test_a_failed_write_stops_the_run_and_journals_no_later_image():
    journal: list[str] = []

    def write(set_name, name, mask, probability):
        if name == "3":
            raise OutputError(f"{name}_mask.jpg: disk full; free space and rerun with --resume")
        time.sleep(0.005)

    outputs = np.zeros(8, dtype=np.float32)
    with pytest.raises(OutputError, match="disk full"):
        with OutputWriter(
            _fake_finish, write, lambda line: journal.append(line["name"]), False, 2
        ) as w:
            for i in range(8):
                w.submit("s", str(i), outputs, i, (2, 2), {"set": "s", "name": str(i)})
    assert journal == ["0", "1", "2"]


def test_score_pool_results_equal_scoring_in_process(overlap_runs):
    run_dir = overlap_runs["overlapped"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest = manifest.get("sets", manifest)
    entries = manifest["kv"]
    with ScorePool(run_dir, {"kv": entries}, {"kv": True}, False, processes=1) as pool:
        for entry in entries:
            pool.submit("kv", entry["name"])
        got = [pool.result("kv", entry) for entry in entries]
    expected = [score_image(run_dir, "kv", entry, False) for entry in entries]
    assert [_exact(r) for r in got] == [_exact(r) for r in expected]


def _exact(value):
    """A comparable form of a result in which equal means equal to the bit (NaN included)."""
    if hasattr(value, "__dict__") and not isinstance(value, np.ndarray):
        return (type(value).__name__, _exact(vars(value)))
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact(item) for item in value]
    if isinstance(value, np.ndarray):
        return (str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, (float, np.floating)):
        return float(value).hex()
    return value


@pytest.mark.parametrize(
    ("threads", "workers", "writers", "cores", "expected"),
    [
        (None, 2, None, 2, (1, 1, 1)),  # the 2-core default: the worker and the writer share a core
        (2, 2, None, 2, (2, 0, 0)),  # torch has every core: write in the loop
        (None, 2, None, 8, (6, 2, 1)),
        (None, 1, None, 8, (7, 1, 1)),
        (2, 1, None, 8, (2, 1, 5)),
        (None, 2, 4, 2, (1, 1, 1)),  # never more writers than the cores torch leaves
        (None, 2, 0, 2, (1, 1, 0)),
    ],
)
def test_thread_plan_with_writers(threads, workers, writers, cores, expected):
    plan = plan_threads(threads, workers, cores, writers)
    assert (plan.threads, plan.workers, plan.writers) == expected
    split = thread_split(plan.threads, plan.workers, cores, plan.writers)
    assert split["oversubscribed"] is False
