"""FPS on a shared machine: load and affinity recorded, no oversubscription, unstable timings flagged."""

from __future__ import annotations

import os

import pytest

from endobench.runner.conditions import (
    cpu_ranges,
    machine_conditions,
    plan_threads,
    stability,
    usable_cores,
)
from endobench.runner.timing import TimingLog, describe_fps, describe_stability, timing_record

IDLE = {"usable_cores": 2, "threads": 2, "load_average_start": [0.3, 0.2, 0.1]}


def _record(millis, load_start=(0.1, 0.1, 0.1), load_end=(2.0, 1.0, 0.5), threads=2):
    log = TimingLog(images=len(millis), started=0.0, finished=10.0)
    log.batch1_ms = {f"set/{i}": ms for i, ms in enumerate(millis)}
    log.load_start, log.load_end = list(load_start), list(load_end)
    return timing_record(
        log,
        conditions={
            "input_size": 352,
            "dtype": "float32",
            "device": "cpu",
            "threads": threads,
            "num_workers": 0,
            "backend": "torch",
            "precision": "fp32",
        },
        batch_size=1,
        warmup=2,
        clock="time.perf_counter",
        scope="all images",
    )


def test_a_steady_timing_on_an_idle_machine_is_stable():
    record = _record([50.0, 51.0, 52.0, 50.5, 53.0, 51.5, 50.2, 52.2])
    assert record["unstable"] is False and record["unstable_reasons"] == []
    assert describe_stability(record) is None
    assert describe_fps(record).endswith("batch 1, torch fp32")
    path = {"inference_path": "torch + channels_last + cuda_graph bf16"}
    record["conditions"] |= path
    assert describe_fps(record).endswith("batch 1, torch + channels_last + cuda_graph bf16")


def test_median_far_above_the_fastest_pass_is_unstable():
    # The 0.3-fps case of the issue: median 3468 ms against a fastest pass of 47 ms.
    record = _record([47.0, 3468.0, 3500.0, 3400.0, 3468.0, 3300.0, 3600.0])
    assert record["unstable"] is True
    assert any(r.startswith("median 3468.0 ms is 73.8x") for r in record["unstable_reasons"])
    assert "[UNSTABLE]" in describe_fps(record)
    assert describe_stability(record).startswith("warning: unstable timing (median 3468.0 ms")


def test_a_slow_tail_alone_is_unstable():
    fast = [50.0] * 8
    record = _record(fast + [140.0, 150.0])
    reasons = record["unstable_reasons"]
    assert record["unstable"] and len(reasons) == 1 and reasons[0].startswith("p90 ")
    assert "limit 2.0x" in reasons[0]


def test_load_above_the_usable_cores_is_unstable_even_with_a_steady_timing():
    steady = [50.0, 50.5, 51.0, 50.2, 50.8]
    at_start = _record(steady, load_start=(3.5, 2.0, 1.0), load_end=(3.0, 2.0, 1.0))
    assert at_start["unstable_reasons"] == [
        "load average 3.5 at the start exceeds the 2 usable cores",
    ]
    own_threads_only = _record(steady, load_start=(0.2, 0.2, 0.2), load_end=(3.9, 1.0, 0.5))
    assert own_threads_only["unstable"] is False  # 3.9 less this run's 2 threads is within 2 cores
    others = _record(steady, load_start=(0.2, 0.2, 0.2), load_end=(4.5, 1.0, 0.5))
    assert others["unstable_reasons"] == [
        "load average 4.5 at the end, less this run's 2 threads, exceeds the 2 usable cores"
    ]


def test_few_timed_images_say_nothing_about_the_spread():
    verdict = stability(
        {"images_timed": 3, "median_ms": 300.0, "p90_ms": 400.0, "min_ms": 10.0}, IDLE
    )
    assert verdict["unstable"] is False
    gpu = stability({"images_timed": 0}, {"usable_cores": 2, "load_average_start": [9.0]}, "cuda")
    assert gpu["unstable"] is False


def test_the_record_states_load_affinity_and_thread_split():
    record = _record([50.0] * 6)
    cond = record["conditions"]
    assert cond["load_average_start"] == [0.1, 0.1, 0.1]
    assert cond["load_average_end"] == [2.0, 1.0, 0.5]
    assert cond["usable_cores"] == len(os.sched_getaffinity(0))
    assert cond["cpu_affinity"] == cpu_ranges(sorted(os.sched_getaffinity(0)))
    assert cond["thread_split"]["torch_threads"] == 2
    assert cond["thread_split"]["oversubscribed"] is (2 > cond["usable_cores"])


def test_timing_log_notes_the_load_when_it_starts_and_stops():
    log = TimingLog()
    log.start()
    log.stop()
    assert len(log.load_start) == 3 and len(log.load_end) == 3
    assert all(value >= 0 for value in log.load_start + log.load_end)
    assert machine_conditions(log.load_start, log.load_end)["usable_cores"] == len(usable_cores())


@pytest.mark.parametrize(
    ("threads", "workers", "cores", "expected"),
    [
        (None, 2, 2, (1, 1)),  # the 2-core default: one torch thread, one decoding worker
        (None, 2, 16, (14, 2)),
        (None, 4, 1, (1, 0)),
        (2, 2, 2, (2, 0)),  # an explicit --threads keeps its number; workers shrink
        (1, 2, 2, (1, 1)),
        (8, 0, 2, (2, 0)),  # never more threads than usable cores
        (None, 0, 4, (4, 0)),
    ],
)
def test_threads_and_workers_never_exceed_the_usable_cores(threads, workers, cores, expected):
    plan = plan_threads(threads, workers, cores)
    assert (plan.threads, plan.workers) == expected
    assert plan.threads + plan.workers <= cores
    assert plan.to_dict()["requested_threads"] == threads


def test_cpu_ranges_are_written_compactly():
    assert cpu_ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert cpu_ranges([3]) == "3"
    assert cpu_ranges([]) == ""
