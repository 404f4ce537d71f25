"""The paper's post-processing on hand-made probability maps, and its calibration."""

from __future__ import annotations

import numpy as np
import pytest

from endobench.errors import ConfigError
from endobench.models.postprocess import (
    calibrate,
    check_params,
    is_polyp_case,
    postprocess,
    reference_area_from_masks,
)


def _map(size=20, blob=(5, 15), value=0.9, background=0.0):
    prob = np.full((size, size), background, dtype=np.float32)
    prob[blob[0] : blob[1], blob[0] : blob[1]] = value
    return prob


def test_pending_case_is_cleared():
    prob = np.zeros((20, 20), dtype=np.float32)
    prob[0, 0] = prob[3, 7] = 0.95  # 2 confident pixels = 0.5 % of the image
    prob[10:20, 10:20] = 0.45  # a grey cloud below the confidence threshold
    mask = postprocess(prob, reference_area=0.01, confidence=0.5, polarise=0.4)
    assert mask.dtype == bool and mask.shape == (20, 20) and not mask.any()


def test_polyp_case_is_polarised_at_the_threshold():
    prob = _map(value=0.9, background=0.3)
    prob[0, :] = 0.61  # grey edge pixels above the polarisation threshold
    mask = postprocess(prob, reference_area=0.05, confidence=0.8, polarise=0.6)
    expected = prob > 0.6
    assert np.array_equal(mask, expected)
    assert mask[0].all() and mask[7, 7] and not mask[19, 19]


def test_thresholds_are_respected_at_the_boundary():
    prob = _map(blob=(0, 2), value=0.7)  # 4 pixels of 400 = 1 %
    assert is_polyp_case(prob, reference_area=0.0099, confidence=0.69)
    assert not is_polyp_case(prob, reference_area=0.01, confidence=0.69)  # must exceed the area
    assert not is_polyp_case(prob, reference_area=0.0099, confidence=0.7)  # must exceed confidence
    assert not postprocess(prob, reference_area=0.0099, confidence=0.7, polarise=0.5).any()
    assert postprocess(prob, reference_area=0.0099, confidence=0.69, polarise=0.5).sum() == 4


def test_reference_area_is_the_smallest_polyp_fraction():
    small = np.zeros((10, 10), bool)
    small[0, :3] = True  # 3 %
    large = np.zeros((20, 20), bool)
    large[:4, :2] = True  # 2 %: smaller as a fraction although more pixels
    empty = np.zeros((5, 5), bool)
    assert reference_area_from_masks([small, large, empty]) == pytest.approx(0.02)
    with pytest.raises(ConfigError, match="no ground-truth mask"):
        reference_area_from_masks([empty])


def test_calibrate_finds_the_thresholds_that_maximise_dice():
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    prob = np.where(gt, 0.65, 0.0).astype(np.float32)
    prob[4, 5:15] = 0.45  # a grey rim outside the polyp: polarise must be >= 0.45
    negative = np.full((20, 20), 0.2, np.float32)
    negative[:5, :5] = 0.55  # 6.25 % moderately confident noise on a polyp-free frame
    grid = {"confidence": [0.5, 0.6], "polarise": [0.4, 0.5]}
    result = calibrate([prob, negative], [gt, np.zeros_like(gt)], reference_area=0.05, grid=grid)
    assert result["confidence"] == 0.6  # 0.5 would call the negative frame a polyp case
    assert result["polarise"] == 0.5  # 0.4 would add the rim
    assert result["dice"] == pytest.approx(1.0)
    assert result["dice_without"] == pytest.approx(0.5)  # the negative frame scores 0 without it


def test_calibrate_takes_the_reference_area_from_training_masks():
    train = np.zeros((10, 10), bool)
    train[:2, :2] = True
    gt = np.ones((4, 4), bool)
    result = calibrate([np.full((4, 4), 0.9, np.float32)], [gt], train_masks=[train])
    assert result["reference_area"] == pytest.approx(0.04)
    with pytest.raises(ConfigError):
        calibrate([np.zeros((4, 4))], [], train_masks=[train])


def test_parameters_are_validated():
    assert check_params({"reference_area": 0.01, "confidence": 0.5, "polarise": 0.5})
    with pytest.raises(ConfigError, match="polarise"):
        check_params({"reference_area": 0.01, "confidence": 0.5})
    with pytest.raises(ConfigError, match="outside"):
        check_params({"reference_area": 0.01, "confidence": 1.5, "polarise": 0.5})
