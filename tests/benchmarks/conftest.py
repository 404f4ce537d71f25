"""Benchmarks run under ``make bench`` alone (``--benchmark-enable``): timing goals cannot flake
``make test`` or a plain ``pytest`` on a slow or busy machine."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--benchmark-enable", default=False):
        return
    skip = pytest.mark.skip(reason="timed only with --benchmark-enable (make bench)")
    here = config.rootpath / "tests" / "benchmarks"
    for item in items:
        if here in item.path.parents:
            item.add_marker(skip)
