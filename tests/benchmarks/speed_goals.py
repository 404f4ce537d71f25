"""The one rule of the benchmarks' speed goals: the machine's facts, and when a goal is asserted.

A goal is asserted only when the machine was not loaded beyond its usable cores (the 1-minute load
average before and after the timed rows); on a loaded machine the figures and any missed goal are
printed and the check is skipped with that reason. These tests run under ``make bench`` alone
(conftest.py): ``make test`` never times anything.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from endobench.env import cpu_name


def machine() -> dict[str, object]:
    """The facts every timed row is conditional on: CPU, usable cores, load average."""
    from endobench.runner.conditions import load_average, usable_cores

    return {"cpu": cpu_name(), "usable_cores": len(usable_cores()), "load_average": load_average()}


def check_speed_goals(missed: list[str], loads: Iterable[float | None], cores: int) -> None:
    """Fail on any missed goal, unless one of ``loads`` exceeded ``cores`` (then skip, saying so).

    Args:
        missed: One line per goal the measured figures missed (empty: all met).
        loads: 1-minute load averages taken around the timed work.
        cores: The usable cores.
    """
    loaded = [load for load in loads if load is not None and load > cores]
    print("speed goals missed: " + ("; ".join(missed) if missed else "none"))
    if loaded:
        pytest.skip(
            f"load average {max(loaded):.1f} above {cores} usable cores: goals reported, not asserted"
        )
    assert not missed, missed


def first(load_average: list[float] | tuple[float, ...] | None) -> float | None:
    """The 1-minute figure of a load average (None when the platform has none)."""
    return load_average[0] if load_average else None
