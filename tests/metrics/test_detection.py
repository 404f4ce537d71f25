"""Frame-level detection figures: rates against plain counting, AUROC against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from endobench.metrics.detection import (
    DETECTION_KEYS,
    FOREGROUND_FRACTION,
    MAX_PROBABILITY,
    DetectionAccumulator,
    auroc,
    detection_figures,
    detection_rows,
    foreground_fraction,
    fp_frame_rate,
    frame_counts,
    frame_positive,
    max_probability,
    sensitivity,
    specificity,
)


def _random_frames(seed: int, count: int, ties: bool):
    rng = np.random.default_rng(seed)
    truth = rng.random(count) < rng.uniform(0.1, 0.9)
    scores = rng.random(count) + 0.35 * truth
    if ties:
        scores = np.round(scores * 6) / 6  # few distinct values: many tied frames
    predicted = scores > 0.6
    return truth, predicted, scores


def _counted(truth, predicted):
    pairs = list(zip(truth.tolist(), predicted.tolist(), strict=True))
    negatives = [p for t, p in pairs if not t]
    positives = [p for t, p in pairs if t]
    return (
        sum(negatives) / len(negatives),
        sum(1 for p in negatives if not p) / len(negatives),
        sum(positives) / len(positives),
    )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", [False, True])
def test_auroc_equals_sklearn_exactly(seed, ties):
    truth, _, scores = _random_frames(seed, 5 + 37 * seed, ties)
    if truth.all() or not truth.any():
        truth[0] = not truth[0]
    assert auroc(truth, scores) == roc_auc_score(truth, scores)


def test_auroc_edge_cases():
    assert auroc([True, False], [0.9, 0.1]) == 1.0 == roc_auc_score([1, 0], [0.9, 0.1])
    assert auroc([True, False], [0.1, 0.9]) == 0.0
    assert auroc([True, False, True, False], [0.5] * 4) == 0.5
    assert auroc([False, False], [0.1, 0.2]) is None
    assert auroc([True], [0.3]) is None
    with pytest.raises(ValueError, match="finite"):
        auroc([True, False], [0.1, float("nan")])
    with pytest.raises(ValueError, match="2 truths but 1 scores"):
        auroc([True, False], [0.1])


@pytest.mark.parametrize("seed", range(8))
def test_rates_equal_plain_counting(seed):
    truth, predicted, scores = _random_frames(seed, 50 + seed, ties=False)
    fp_rate, spec, sens = _counted(truth, predicted)
    assert fp_frame_rate(truth, predicted) == fp_rate
    assert specificity(truth, predicted) == spec
    assert sensitivity(truth, predicted) == sens
    counts = frame_counts(truth, predicted)
    assert counts.tp + counts.fn + counts.fp + counts.tn == truth.size
    assert (counts.positives, counts.negatives) == (truth.sum(), (~truth).sum())
    figures = detection_figures(truth, predicted, scores.tolist())
    assert tuple(figures) == DETECTION_KEYS
    assert figures == {
        "n_positive_frames": int(truth.sum()),
        "n_negative_frames": int((~truth).sum()),
        "fp_frame_rate": fp_rate,
        "sensitivity": sens,
        "specificity": spec,
        "auroc": roc_auc_score(truth, scores),
        "frame_score": MAX_PROBABILITY,
    }


def test_sets_without_one_kind_of_frame():
    only_positive = detection_figures([True] * 4, [True, True, False, True], [0.9, 0.8, 0.1, 0.7])
    assert only_positive["sensitivity"] == 0.75 and only_positive["n_negative_frames"] == 0
    assert only_positive["fp_frame_rate"] is None and only_positive["specificity"] is None
    assert only_positive["auroc"] is None
    only_negative = detection_figures([False] * 5, [True, False, False, False, False])
    assert only_negative["fp_frame_rate"] == 0.2 and only_negative["specificity"] == 0.8
    assert only_negative["sensitivity"] is None and only_negative["auroc"] is None


def test_auroc_needs_every_score():
    truth, predicted = [True, False, True], [True, False, False]
    assert detection_figures(truth, predicted, [0.9, None, 0.2])["auroc"] is None
    assert detection_figures(truth, predicted, None)["auroc"] is None
    assert detection_figures(truth, predicted, [0.9, 0.1, 0.2])["auroc"] == 1.0


def test_frame_rules():
    empty = np.zeros((4, 5), dtype=np.uint8)
    speck = empty.copy()
    speck[2, 3] = 1  # a JPEG-rim value: the EndoCV scorer counts it as polyp
    assert not frame_positive(empty) and frame_positive(speck)
    assert frame_positive(np.array([[False, True]])) and not frame_positive(np.zeros((2, 2), bool))
    prob = np.array([[0.1, 0.73], [0.2, 0.0]], dtype=np.float32)
    assert max_probability(prob) == pytest.approx(0.73) and max_probability(np.zeros(0)) == 0.0
    assert foreground_fraction(speck) == 1 / 20 and foreground_fraction(empty) == 0.0


def test_accumulator_matches_the_function():
    truth, predicted, scores = _random_frames(3, 40, ties=True)
    accumulator = DetectionAccumulator(frame_score=FOREGROUND_FRACTION)
    accumulator.extend(zip(truth.tolist(), predicted.tolist(), scores.tolist(), strict=True))
    assert len(accumulator) == 40
    expected = detection_figures(truth, predicted, scores.tolist(), FOREGROUND_FRACTION)
    assert accumulator.compute() == expected
    assert expected["frame_score"] == FOREGROUND_FRACTION


def test_detection_rows_for_tables():
    figures = detection_figures(
        [True] * 3 + [False] * 4, [True, True, False, True, False, False, False]
    )
    rows = dict(detection_rows(figures))
    assert rows["frames with a polyp / polyp-free"] == "3 / 4"
    assert rows["FP frame rate (polyp-free called polyp)"] == "25.0 % (1 of 4)"
    assert rows["sensitivity (polyp frames called polyp)"] == "66.7 % (2 of 3)"
    assert rows["AUROC of the max_probability"] == "-"
