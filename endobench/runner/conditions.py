"""The machine conditions of a speed figure, the thread split, and when a timing is unstable.

On a shared machine the same run can report 13 FPS or 0.3 FPS. So every timing records the load
average and the CPU affinity of the process, the run never oversubscribes the cores it may use
(torch threads plus DataLoader workers stay within them), and a timing is marked unstable when:

* the median forward time is more than :data:`MEDIAN_OVER_MIN` times the fastest one, or the 90th
  percentile more than :data:`P90_OVER_MIN` times it (other work kept interrupting the passes);
* other processes loaded the machine beyond its usable cores: the 1-minute load average at the
  start, or at the end less the run's own threads, exceeds the usable cores.

Unstable figures are still written (``timing.json``, the challenge's time file); the summary warns
and the leaderboard keeps them out of its rankings.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from endobench.wording import counted

#: The median forward time may be at most this multiple of the fastest before a timing is unstable.
MEDIAN_OVER_MIN = 1.5
#: The same bound for the 90th percentile.
P90_OVER_MIN = 2.0
#: Fewer timed images than this say nothing about the spread (only the load rule applies).
MIN_IMAGES_FOR_SPREAD = 5
THREAD_RULE = (
    "torch threads + DataLoader workers <= usable cores; without --threads, workers get at most "
    "half the cores and torch the rest; an explicit --threads keeps its number and workers shrink; "
    "writer threads (restoring and writing masks) share the cores torch leaves with the workers, "
    "at most that many, none when torch has every core"
)


def usable_cores() -> list[int]:
    """Return the CPU ids this process may run on (its affinity), all CPUs where unknown."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def load_average() -> list[float] | None:
    """Return the 1, 5 and 15-minute load averages, or None where the system has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_ranges(cpus: list[int]) -> str:
    """Write CPU ids compactly, as ``taskset`` does: ``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    parts: list[str] = []
    start = previous = None
    for cpu in sorted(cpus):
        if previous is not None and cpu == previous + 1:
            previous = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = cpu
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


@dataclass(frozen=True)
class ThreadPlan:
    """How a run splits the usable cores between torch's threads and DataLoader workers.

    Attributes:
        threads: torch (and ONNX Runtime) intra-op threads.
        workers: DataLoader worker processes.
        usable_cores: Cores this process may use.
        requested_threads: ``--threads`` as given (None: automatic).
        requested_workers: ``--workers`` as given.
        writers: Threads restoring and writing outputs behind inference
            (:mod:`endobench.runner.writer_pool`).
    """

    threads: int
    workers: int
    usable_cores: int
    requested_threads: int | None
    requested_workers: int
    writers: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The plan and its rule."""
        return asdict(self) | {"rule": THREAD_RULE}


def plan_threads(
    threads: int | None, workers: int, cores: int | None = None, writers: int | None = None
) -> ThreadPlan:
    """Split the usable cores so that torch threads plus busy workers never exceed them.

    Args:
        threads: ``--threads`` (None: automatic).
        workers: ``--workers`` asked for.
        cores: Usable cores (default: this process's affinity).
        writers: ``--writers`` (None: automatic).

    Returns:
        The plan: without ``threads``, workers get at most half the cores (rounded down) and torch
        the rest; with ``threads`` (capped at the cores), workers shrink to what is left. Writer
        threads share the cores torch leaves with the workers (they alternate: a worker waits while
        its prefetch queue is full, a writer while nothing new is inferred): at most that many, by
        default the cores the workers leave or one.
    """
    cores = max(1, cores if cores is not None else len(usable_cores()))
    if threads is None:
        use_workers = min(workers, cores // 2)
        use_threads = max(1, cores - use_workers)
    else:
        use_threads = max(1, min(threads, cores))
        use_workers = min(workers, cores - use_threads)
    use_workers = max(0, use_workers)
    spare = cores - use_threads
    wanted = max(1, spare - use_workers) if writers is None else writers
    return ThreadPlan(use_threads, use_workers, cores, threads, workers, max(0, min(wanted, spare)))


def thread_split(
    threads: int | None, workers: int | None, cores: int, writers: int | None = None
) -> dict[str, Any]:
    """Record how a run split the cores: threads, workers, writer threads, usable cores, and
    whether it oversubscribed (writers share the workers' cores, see :func:`plan_threads`)."""
    return {
        "torch_threads": threads,
        "dataloader_workers": workers,
        "writer_threads": writers,
        "usable_cores": cores,
        "oversubscribed": (threads or 0) + max(workers or 0, writers or 0) > cores,
        "rule": THREAD_RULE,
    }


def machine_conditions(load_start: list[float] | None, load_end: list[float] | None) -> dict:
    """The machine facts a CPU timing depends on: load averages and the process's CPU affinity."""
    cpus = usable_cores()
    return {
        "usable_cores": len(cpus),
        "cpu_affinity": cpu_ranges(cpus),
        "cpu_count": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": load_end,
    }


def stability(
    fps: dict[str, Any], conditions: dict[str, Any], device_type: str = "cpu"
) -> dict[str, Any]:
    """Decide whether a timing can be trusted, with the reasons when it cannot.

    Args:
        fps: The batch-1 statistics (``median_ms``, ``p90_ms``, ``min_ms``, ``images_timed``).
        conditions: With ``usable_cores``, ``threads``, ``load_average_start``/``_end``.
        device_type: The load rule applies to CPU timings only.

    Returns:
        ``{"unstable": bool, "reasons": [...], "rules": ...}``.
    """
    reasons: list[str] = []
    low = fps.get("min_ms")
    if fps.get("images_timed", 0) >= MIN_IMAGES_FOR_SPREAD and low and low > 0:
        if fps["median_ms"] > MEDIAN_OVER_MIN * low:
            reasons.append(
                f"median {fps['median_ms']:.1f} ms is {fps['median_ms'] / low:.1f}x the fastest "
                f"pass ({low:.1f} ms; limit {MEDIAN_OVER_MIN}x)"
            )
        if fps["p90_ms"] > P90_OVER_MIN * low:
            reasons.append(
                f"p90 {fps['p90_ms']:.1f} ms is {fps['p90_ms'] / low:.1f}x the fastest pass "
                f"(limit {P90_OVER_MIN}x)"
            )
    cores = conditions.get("usable_cores")
    if device_type == "cpu" and cores:
        start = (conditions.get("load_average_start") or [None])[0]
        end = (conditions.get("load_average_end") or [None])[0]
        own = int(conditions.get("threads") or 0)
        if start is not None and start > cores:
            reasons.append(
                f"load average {start:.1f} at the start exceeds the {counted(cores, 'usable core')}"
            )
        if end is not None and end - own > cores:
            reasons.append(
                f"load average {end:.1f} at the end, less this run's {counted(own, 'thread')}, "
                f"exceeds the {counted(cores, 'usable core')}"
            )
    return {
        "unstable": bool(reasons),
        "reasons": reasons,
        "rules": f"median <= {MEDIAN_OVER_MIN}x min, p90 <= {P90_OVER_MIN}x min (from "
        f"{MIN_IMAGES_FOR_SPREAD} timed images), 1-minute load average of other work <= usable cores",
    }
