"""The timing helpers: subset choice, statistics, the synchronised timer, the record."""

from __future__ import annotations

import pytest

from endobench.data.inputs import evenly_spaced
from endobench.runner.timing import (
    ForwardTimer,
    TimingLog,
    describe_fps,
    latency_stats,
    timing_record,
)


def test_evenly_spaced_is_deterministic_and_covers_the_range():
    assert evenly_spaced(10, 3) == [0, 4, 9] or evenly_spaced(10, 3) == [0, 5, 9]
    assert evenly_spaced(10, 3) == evenly_spaced(10, 3)
    assert evenly_spaced(4, 10) == [0, 1, 2, 3]
    assert evenly_spaced(1000, 100)[0] == 0 and evenly_spaced(1000, 100)[-1] == 999
    assert len(evenly_spaced(1000, 100)) == 100 and evenly_spaced(0, 5) == []


def test_latency_stats_match_the_definitions():
    stats = latency_stats([10.0, 20.0, 30.0, 40.0, 1000.0])
    assert stats["median_ms"] == 30.0 and stats["fps"] == pytest.approx(1000 / 30)
    assert stats["p90_ms"] == pytest.approx(40 + 0.6 * 960)  # linear interpolation, numpy's default
    assert stats["images_timed"] == 5 and stats["min_ms"] == 10.0
    assert latency_stats([]) == {"images_timed": 0}


def test_cpu_timer_measures_the_call(monkeypatch):
    """The timer's arithmetic on a fake clock: no wall-clock bound can flake on a busy machine."""
    import endobench.runner.timing as timing

    ticks = iter([10.0, 10.25])
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    timer = ForwardTimer("cpu")
    calls = []
    result, millis = timer(lambda: calls.append(1) or "done")
    assert result == "done" and calls == [1]
    assert millis == pytest.approx(250.0)
    assert timer.clock == "time.perf_counter"


def test_end_to_end_excludes_warm_up_and_extra_passes():
    log = TimingLog(images=10, started=100.0, finished=104.0, excluded_s=2.0)
    log.batch_ms = [(4, 100.0), (4, 100.0), (2, 50.0)]
    assert log.end_to_end() == pytest.approx(10 / 2.0)
    assert log.throughput() == pytest.approx(10 / 0.25)
    log.batch1_ms = {"a": 10.0, "b": 30.0}
    record = timing_record(
        log,
        conditions={
            "input_size": 352,
            "dtype": "float32",
            "device": "cpu",
            "device_name": "X",
            "threads": 2,
        },
        batch_size=4,
        warmup=3,
        clock="time.perf_counter",
        scope="a subset",
    )
    assert record["end_to_end"]["seconds"] == pytest.approx(2.0)
    assert "after 3 warm-up passes" in record["fps"]["definition"]
    assert describe_fps(record).startswith("50.0 FPS (median 20.00 ms")
    assert "352 px, float32, X, 2 threads, batch 1" in describe_fps(record)
