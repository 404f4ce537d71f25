"""Benchmark: ``compare --stats`` over 5 models x 5 sets x 7 metrics x 1000 resamples.

The five sets have the sizes of the five standard polyp test sets (Kvasir-SEG 100, CVC-ClinicDB
62, CVC-ColonDB 380, ETIS 196, CVC-300 60 images). ``make bench`` runs it (``--benchmark-enable``)
and then requires at most 10 s; docs/pipeline.md records the time measured with the CPU and core
count. Without ``--benchmark-enable`` it is skipped (tests/benchmarks/conftest.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compare"))

from speed_goals import check_speed_goals, first, machine  # noqa: E402
from stats_runs import scores_for, write_run  # noqa: E402

from endobench.compare.stats import StatsSettings, compute_stats  # noqa: E402

MAX_SECONDS = 10.0
SET_SIZES = {"kvasir": 100, "clinicdb": 62, "colondb": 380, "etis": 196, "cvc300": 60}


def _runs(root: Path) -> list[Path]:
    rng = np.random.default_rng(2021)
    per_run: list[dict] = [{} for _ in range(5)]
    for set_name, n in SET_SIZES.items():
        images = [f"{set_name}_{i:04d}" for i in range(n)]
        for m in range(5):
            per_run[m][set_name] = (images, scores_for(rng, n, 0.86 - 0.01 * m))
    return [write_run(root, f"model{m}", per_run[m]) for m in range(5)]


def test_stats_5_models_5_sets_7_metrics_1000_resamples(benchmark, tmp_path):
    runs = _runs(tmp_path)
    settings = StatsSettings(n_resamples=1000)
    compute_stats(runs[:2], "dice", settings)  # imports and first calls outside the timing

    before = machine()
    start = time.perf_counter()
    result = compute_stats(runs, settings=settings)
    seconds = time.perf_counter() - start
    benchmark.pedantic(compute_stats, args=(runs,), kwargs={"settings": settings}, rounds=1)

    assert len(result["sets"]) == 5
    assert all(len(by_metric) == 7 for by_metric in result["sets"].values())
    entry = result["sets"]["colondb"]["dice"]
    assert len(entry["models"]) == 5 and len(entry["pairs"]) == 20
    assert sum(entry["rank_distribution"]["model0"]) == 1000
    after = machine()
    cores = int(before["usable_cores"])
    benchmark.extra_info.update(cpu=before["cpu"], cores=cores, seconds=seconds)
    print(f"\n[stats benchmark] {before['cpu']}, {cores} cores: {seconds:.2f} s")
    missed = [f"{seconds:.2f} s > {MAX_SECONDS:g} s"] if seconds > MAX_SECONDS else []
    check_speed_goals(missed, (first(before["load_average"]), first(after["load_average"])), cores)
