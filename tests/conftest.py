"""Fixtures shared by the whole suite: the real data in ../shared/data and the bundled sample.

A test that reads the real data declares the folders it needs with one marker and takes the
``shared_data`` fixture::

    @pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB")
    def test_something(shared_data): ...

It is skipped, with the missing folders named, whenever any of them is absent. A test that needs
an instruction set or a device says so the same way (``@pytest.mark.needs("cpu_bf16")``, see
``tests/capabilities.py``) and is skipped with its reason where the machine lacks it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from capabilities import missing_capabilities

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ENDOBENCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def missing_shared_folders(folders: tuple[str, ...]) -> list[str]:
    """Return the folders of ``SHARED_DATA`` (relative names) that do not exist."""
    if not SHARED_DATA.is_dir():
        return [str(SHARED_DATA)]
    return [name for name in folders if not (SHARED_DATA / name).is_dir()]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a ``@pytest.mark.shared(...)`` test whose real-data folders are missing, and a
    ``@pytest.mark.needs(...)`` test on a machine without what it needs."""
    needs = item.get_closest_marker("needs")
    if needs is not None and (reasons := missing_capabilities(tuple(needs.args))):
        pytest.skip("; ".join(reasons))
    marker = item.get_closest_marker("shared")
    if marker is None:
        return
    missing = missing_shared_folders(tuple(marker.args))
    if missing:
        pytest.skip(
            f"real data not found: {', '.join(missing)} under {SHARED_DATA} "
            "(set ENDOBENCH_SHARED_DATA)"
        )


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Path:
    """The real data sets beside the project, for tests marked ``@pytest.mark.shared(...)``."""
    marker = request.node.get_closest_marker("shared")
    if marker is None or not marker.args:
        pytest.fail(
            "a test that reads ../shared/data names its folders: "
            '@pytest.mark.shared("Kvasir-SEG", ...)',
            pytrace=False,
        )
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _cache_in_tmp(tmp_path_factory) -> Iterator[None]:
    """endobench's user cache (the CPU fast path's exports) in a temporary folder, one per session,
    for this process and the processes it starts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENDOBENCH_CACHE", str(tmp_path_factory.mktemp("endobench-cache")))
        yield


@pytest.fixture(scope="session")
def sample_root() -> Path:
    """The small sample of real pairs bundled inside the package."""
    from endobench.data.sample import sample_root as _sample_root

    return _sample_root()
