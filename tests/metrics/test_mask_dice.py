"""The one numpy Dice: endobench.metrics.mask_dice, checked against sklearn's F1."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from endobench.metrics import mask_dice


@pytest.mark.parametrize("seed", range(5))
def test_equals_sklearn_f1(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random((37, 41)) > 0.6
    pred = rng.random((37, 41)) > 0.5
    expected = f1_score(truth.ravel(), pred.ravel())
    assert mask_dice(pred, truth) == pytest.approx(expected, rel=1e-12)


def test_empty_cases_follow_the_toolkit():
    empty = np.zeros((8, 8), dtype=bool)
    full = np.ones((8, 8), dtype=bool)
    assert mask_dice(empty, empty) == 1.0
    assert mask_dice(empty, full) < 1e-15
    assert mask_dice(full, empty) < 1e-15
    assert mask_dice(full, full) == 1.0


def test_argument_order_does_not_matter():
    rng = np.random.default_rng(7)
    a, b = rng.random((16, 16)) > 0.5, rng.random((16, 16)) > 0.3
    assert mask_dice(a, b) == mask_dice(b, a)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="differ in shape"):
        mask_dice(np.zeros((4, 4), bool), np.zeros((4, 5), bool))
