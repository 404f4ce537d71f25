"""Fixtures of the pipeline tests (helpers in ``pipeline_helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import copy_sample, make_run


@pytest.fixture(scope="module")
def sample_pairs(sample_root: Path, tmp_path_factory) -> tuple[Path, Path]:
    """Four CVC-ClinicDB pairs of the bundled sample in a temporary ``images/`` + ``masks/``."""
    return copy_sample(sample_root, tmp_path_factory.mktemp("pairs"))


@pytest.fixture(scope="module")
def handmade_runs(sample_pairs, tmp_path_factory) -> list[Path]:
    """Three hand-made runs: exact-ish (grow 0), dilated by 3 px, eroded by 3 px."""
    images, masks = sample_pairs
    root = tmp_path_factory.mktemp("runs")
    return [
        make_run(root, "exact", images, masks, model="alpha", grow=0, fps=50.0),
        make_run(root, "grown", images, masks, model="beta", grow=3, fps=80.0),
        make_run(root, "shrunk", images, masks, model="gamma", grow=-3, fps=20.0),
    ]
