"""Counted nouns: "1 thread", never "1 threads"."""

from __future__ import annotations

from endobench.runner.timing import describe_fps
from endobench.wording import counted


def test_counted_nouns():
    assert counted(1, "thread") == "1 thread"
    assert counted(2, "thread") == "2 threads"
    assert counted(0, "image") == "0 images"
    assert counted(1, "match") == "1 match" and counted(3, "match") == "3 matches"
    assert counted(2, "index", "indices") == "2 indices"
    assert counted(None, "thread") == "? threads"


def test_fps_line_with_one_thread_and_one_image():
    timing = {
        "fps": {"fps": 50.0, "median_ms": 20.0, "p90_ms": 21.0, "images_timed": 1},
        "conditions": {"input_size": 288, "dtype": "float32", "device": "cpu", "threads": 1},
    }
    line = describe_fps(timing)
    assert "1 image)" in line and "1 thread," in line and "threads" not in line
