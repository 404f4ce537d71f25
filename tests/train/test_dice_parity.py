"""The torch Dice of validation equals the one numpy Dice, endobench.metrics.mask_dice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from endobench.metrics import mask_dice
from endobench.train.epoch import dice


def _both(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    return dice(torch.from_numpy(pred), torch.from_numpy(truth)), mask_dice(pred, truth)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("density", [0.02, 0.3, 0.9])
def test_random_masks(seed, density):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(5, 120, size=2))
    pred = rng.random(shape) < density
    truth = rng.random(shape) < rng.uniform(0.05, 0.95)
    torch_dice, numpy_dice = _both(pred, truth)
    assert 0.0 < numpy_dice < 1.0
    assert torch_dice == pytest.approx(numpy_dice, abs=1e-12)


def test_edge_cases():
    empty, full = np.zeros((17, 23), bool), np.ones((17, 23), bool)
    one = empty.copy()
    one[4, 5] = True
    cases = {
        "empty/empty": (empty, empty, 1.0),
        "empty/full": (empty, full, 0.0),
        "full/empty": (full, empty, 0.0),
        "full/full": (full, full, 1.0),
        "one pixel/empty": (one, empty, 0.0),
        "one pixel/same pixel": (one, one, 1.0),
        "one pixel/full": (one, full, 2 / (1 + full.size)),
    }
    for name, (pred, truth, expected) in cases.items():
        torch_dice, numpy_dice = _both(pred, truth)
        assert torch_dice == pytest.approx(expected, abs=1e-12), name
        assert numpy_dice == pytest.approx(expected, abs=1e-12), name
