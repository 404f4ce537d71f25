"""The one rule for standard metrics on files: truth and prediction pixels above 127 are polyp."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from endobench.errors import ScoringError
from endobench.metrics.standard import StandardMetrics, prediction_map


def _noisy_jpeg_mask(seed: int, shape=(60, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    cy, cx = rng.integers(20, 40), rng.integers(25, 55)
    cv2.circle(mask, (int(cx), int(cy)), int(rng.integers(8, 18)), 255, -1)
    ok, data = cv2.imencode(".jpg", cv2.merge([mask, mask, mask]))
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, 0]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k]
        for k in a
    )


def test_mask_files_are_binarised_before_every_metric():
    by_files, by_hand = StandardMetrics(), StandardMetrics()
    for seed in range(4):
        truth, pred = _noisy_jpeg_mask(seed), _noisy_jpeg_mask(seed + 10)
        assert ((pred > 0) & (pred < 255)).any()  # the JPEG noise the rule must drop
        by_files.update_from_files(f"im{seed}", truth, pred)
        by_hand.update(f"im{seed}", truth > 127, np.where(pred > 127, 255, 0).astype(np.uint8))
    assert _same(by_files.compute(), by_hand.compute())


def test_the_rule_changes_numbers_against_the_raw_noise():
    raw, ruled = StandardMetrics(), StandardMetrics()
    for seed in range(3):
        truth, pred = _noisy_jpeg_mask(seed), _noisy_jpeg_mask(seed + 20)
        raw.update(f"im{seed}", truth > 127, pred)
        ruled.update_from_files(f"im{seed}", truth, pred)
    assert raw.compute()["mae"] != ruled.compute()["mae"]


def test_probability_maps_keep_their_grey_values_and_sizes_follow_the_truth():
    prob = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    kept = prediction_map(prob, (30, 40), probability=True)
    assert np.array_equal(kept, prob)
    binary = prediction_map(prob, (30, 40))
    assert np.array_equal(binary == 255, prob > 127) and set(np.unique(binary)) == {0, 255}
    resized = prediction_map(prob, (60, 80))
    expected = cv2.resize(prob, (80, 60), interpolation=cv2.INTER_LINEAR) > 127
    assert np.array_equal(resized == 255, expected)
    assert np.array_equal(prediction_map(prob > 127, (30, 40)), binary)


def test_a_non_8_bit_prediction_is_a_one_line_error():
    metrics = StandardMetrics()
    with pytest.raises(ScoringError, match=r"^im: need an 8-bit or boolean image") as err:
        metrics.update_from_files("im", np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint16))
    assert "\n" not in str(err.value)
