"""`calibrate`'s choice of the stream's temporal filter, against hand-computed sequences."""

from __future__ import annotations

import pytest

from endobench.errors import ConfigError
from endobench.train.temporal_choice import choose_temporal_filter, describe_temporal


def _flickering(length: int = 50, every: int = 10) -> list[bool]:
    """Polyp-free frames with a lone false positive every ``every`` frames (at 5, 15, ...)."""
    return [i % every == every // 2 for i in range(length)]


def test_lone_false_positives_are_filtered_at_no_cost_in_sensitivity():
    negatives = [_flickering(), _flickering()]
    choice = choose_temporal_filter(negatives, [True] * 50, within_s=1.0, fps=25)
    # 10 lone positives in 100 frames (4 s): 150 false alarms a minute without a filter
    assert choice.raw.false_alarms_per_minute == pytest.approx(150.0)
    assert choice.raw.sensitivity == 1.0 and choice.raw.mean_first_alarm_s == 0.0
    # two positives in a row are needed to silence them; the earliest such filter is (2, 2, 1)
    c = choice.chosen
    assert (c.k, c.n, c.m) == (2, 2, 1)
    assert c.false_alarms_per_minute == 0.0 and c.sensitivity == 1.0
    assert c.mean_first_alarm_s == pytest.approx(1 / 25)
    assert choice.target_met and (choice.n_sequences, choice.negative_frames) == (2, 100)
    assert choice.positive_windows == 2  # 50 polyp frames in windows of 25
    assert "2 of 2 frames" in describe_temporal(choice)


def test_the_sensitivity_target_limits_the_filter():
    # Polyp frames found every other frame, in windows of 5 (0.2 s): T F T F T, then F T F T F.
    positives = [i % 2 == 0 for i in range(50)]
    negatives = [[False] * 40 + [True, True] + [False] * 40]  # one pair of false positives
    strict = choose_temporal_filter(negatives, positives, target_sensitivity=1.0, within_s=0.2)
    # Every window must alarm: k <= 2, so the pair is one false alarm whatever the filter; the
    # earliest alarm then decides: the raw decision.
    c = strict.chosen
    assert (c.k, c.n, c.m) == (1, 1, 1) and c.sensitivity == 1.0
    assert c.false_alarms_per_minute == pytest.approx(1 / (82 / 25 / 60))
    # Half the windows may go unflagged: 3 of 5 frames ignores the pair and flags T F T F T.
    lenient = choose_temporal_filter(negatives, positives, target_sensitivity=0.5, within_s=0.2)
    c = lenient.chosen
    assert (c.k, c.n, c.m) == (3, 5, 1) and c.false_alarms_per_minute == 0.0
    assert c.sensitivity == 0.5 and c.mean_first_alarm_s == pytest.approx(4 / 25)


def test_an_unreachable_target_takes_the_most_sensitive_filter():
    choice = choose_temporal_filter([[False] * 30], [False] * 30, target_sensitivity=0.9)
    assert not choice.target_met and choice.chosen.sensitivity == 0.0
    assert "not reached" in describe_temporal(choice)


def test_inputs_are_checked():
    with pytest.raises(ConfigError, match="negative sequences and polyp frames"):
        choose_temporal_filter([], [True])
    with pytest.raises(ConfigError, match="alarm-sensitivity"):
        choose_temporal_filter([[False]], [True], target_sensitivity=0)
