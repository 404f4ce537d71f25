"""Fixtures shared by the whole suite: the real data in ../shared/data and the bundled sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ENDOBENCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets beside the project; tests that use this skip when it is absent."""
    if not (SHARED_DATA / "Kvasir-SEG").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set ENDOBENCH_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_root() -> Path:
    """The small sample of real pairs bundled inside the package."""
    from endobench.data.sample import sample_root as _sample_root

    return _sample_root()
