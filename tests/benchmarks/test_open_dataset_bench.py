"""Benchmark: opening (listing and pairing) the real Kvasir-SEG folder of 1000 pairs.

``make bench`` runs it with ``--benchmark-enable`` and asserts the goal of under 5 s per opening;
without it (and never under ``make test``, which skips tests/benchmarks) only the count is checked.
"""

from __future__ import annotations

import pytest

from endobench.data import open_dataset

GOAL_S = 5.0


@pytest.mark.shared("Kvasir-SEG")
def test_open_kvasir_folder(benchmark, shared_data):
    dataset = benchmark.pedantic(open_dataset, args=(shared_data / "Kvasir-SEG",), rounds=3)
    assert len(dataset) == 1000
    assert benchmark.stats.stats.min < GOAL_S, (
        f"opening 1000 pairs took {benchmark.stats.stats.min:.2f} s"
    )
