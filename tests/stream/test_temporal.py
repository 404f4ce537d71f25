"""The temporal filter's (k, n, m) rule, by hand."""

from __future__ import annotations

import pytest

from endobench.errors import ConfigError
from endobench.stream.temporal import (
    DEFAULT_FILTER,
    FilterParams,
    TemporalFilter,
    apply_filter,
    changes,
    episodes,
)


def _alarm(raw: str, k: int, n: int, m: int) -> str:
    return "".join(
        str(int(a)) for a in apply_filter([c == "1" for c in raw], FilterParams(k, n, m))
    )


def test_k_of_n_starts_and_m_clear_frames_end_it():
    # k=2 of n=3: on at the second positive within three frames; m=2: off on the 2nd clear frame.
    assert _alarm("1011001000", 2, 3, 2) == "0011100000"


def test_window_starts_empty_after_an_alarm_ends():
    # k=1, n=5, m=1: a positive two frames back would restart the alarm if the window were kept.
    assert _alarm("1001", 1, 5, 1) == "1001"
    assert _alarm("1101", 2, 5, 1) == "0100"
    assert _alarm("10001", 2, 5, 1) == "00001"  # no alarm between: the window holds both


def test_no_filter_is_the_raw_decision():
    raw = "0110100111010"
    assert _alarm(raw, 1, 1, 1) == raw


def test_k_equal_n_needs_consecutive_positives():
    assert _alarm("1101110111", 3, 3, 1) == "0000010001"


def test_a_positive_frame_resets_the_clear_count():
    # m=3: clear, clear, positive, clear, clear keeps the alarm on throughout.
    assert _alarm("1100100111", 2, 2, 3) == "0111111111"
    assert _alarm("11000", 2, 2, 3) == "01110"


def test_state_steps_one_frame_at_a_time():
    state = TemporalFilter(FilterParams(2, 2, 1))
    assert [state.step(r) for r in (True, True, False, True)] == [False, True, False, False]
    assert state.on is False


def test_episodes_and_changes():
    assert episodes([False, True, True, False, True]) == [(1, 2), (4, 4)]
    assert episodes([]) == []
    assert episodes([True, True]) == [(0, 1)]
    assert changes([0, 1, 1, 0, 1]) == 3
    assert changes([1]) == 0


@pytest.mark.parametrize("k,n,m", [(0, 3, 1), (4, 3, 1), (1, 1, 0)])
def test_out_of_range_parameters_are_refused(k, n, m):
    with pytest.raises(ConfigError, match="1 <= K <= N"):
        FilterParams(k, n, m)


def test_parse_and_mapping():
    assert FilterParams.parse("3, 5,2") == FilterParams(3, 5, 2)
    with pytest.raises(ConfigError, match="three whole numbers"):
        FilterParams.parse("3,5")
    assert FilterParams.from_mapping(None).to_dict() == DEFAULT_FILTER
    assert FilterParams.from_mapping({"k": 1, "n": 2, "m": 3}) == FilterParams(1, 2, 3)
    with pytest.raises(ConfigError, match="integers"):
        FilterParams.from_mapping({"k": 1})
