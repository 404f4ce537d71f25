"""HD and HD95 from one surface-distance computation equal medpy's two separate calls, exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from medpy.metric import binary

from endobench.metrics.standard import (
    StandardMetrics,
    boundary_hd,
    boundary_hd95,
    boundary_hd_pair,
    image_values,
)


def _blobs(rng: np.random.Generator, shape: tuple[int, int], count: int) -> np.ndarray:
    """A mask of a few random ellipses (some touching the image's edges)."""
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, dtype=bool)
    for _ in range(count):
        cy, cx = rng.uniform(-5, shape[0] + 5), rng.uniform(-5, shape[1] + 5)
        ry, rx = rng.uniform(1, shape[0] / 3), rng.uniform(1, shape[1] / 3)
        mask |= ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
    return mask


def _edge_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    shape = (40, 52)
    full = np.ones(shape, dtype=bool)
    pixel = np.zeros(shape, dtype=bool)
    pixel[0, 0] = True
    far = np.zeros(shape, dtype=bool)
    far[-1, -1] = True
    line = np.zeros(shape, dtype=bool)
    line[20, :] = True
    column = np.zeros(shape, dtype=bool)
    column[:, 7] = True
    frame = full.copy()
    frame[1:-1, 1:-1] = False
    ring = np.zeros(shape, dtype=bool)
    ring[5:30, 5:30] = True
    ring[10:25, 10:25] = False
    return [
        (full, full),
        (full, pixel),
        (pixel, far),
        (pixel, pixel),
        (line, column),
        (frame, full),
        (ring, column),
        (ring, ~ring),
        (np.eye(40, 52, dtype=bool), np.fliplr(np.eye(40, 52, dtype=bool))),
    ]


def _assert_as_medpy(truth: np.ndarray, prediction: np.ndarray) -> None:
    hd, hd95 = boundary_hd_pair(truth, prediction)
    assert hd == float(binary.hd(prediction, truth))
    assert hd95 == float(binary.hd95(prediction, truth))
    assert boundary_hd(truth, prediction) == hd and boundary_hd95(truth, prediction) == hd95


@pytest.mark.parametrize("case", range(len(_edge_cases())))
def test_edge_cases_equal_medpy(case):
    truth, prediction = _edge_cases()[case]
    _assert_as_medpy(truth, prediction)
    _assert_as_medpy(prediction, truth)


def test_random_masks_equal_medpy():
    rng = np.random.default_rng(7)
    for trial in range(150):
        shape = (int(rng.integers(8, 90)), int(rng.integers(8, 90)))
        truth = _blobs(rng, shape, int(rng.integers(1, 4)))
        if trial % 3 == 0:
            prediction = rng.random(shape) < rng.uniform(0.01, 0.6)  # speckle: many borders
        else:
            prediction = _blobs(rng, shape, int(rng.integers(1, 4)))
        if not truth.any() or not prediction.any():
            continue
        _assert_as_medpy(truth, prediction)


def test_empty_mask_is_undefined():
    empty = np.zeros((10, 10), dtype=bool)
    some = empty.copy()
    some[3:5, 3:5] = True
    for pair in [(empty, some), (some, empty), (empty, empty)]:
        hd, hd95 = boundary_hd_pair(*pair)
        assert math.isnan(hd) and math.isnan(hd95)


def test_per_image_values_add_up_to_the_sequential_set():
    """Per-image values added in order equal pysodmetrics and medpy stepped over the set directly."""
    import py_sod_metrics

    rng = np.random.default_rng(3)
    direct = {
        "sm": py_sod_metrics.Smeasure(),
        "em": py_sod_metrics.Emeasure(),
        "wfm": py_sod_metrics.WeightedFmeasure(),
        "mae": py_sod_metrics.MAE(),
    }
    merged = StandardMetrics()
    hds, dices, ious, polyp = [], [], [], []
    shape = (48, 64)
    edge = [
        (np.zeros(shape, bool), np.zeros(shape, np.uint8)),  # empty truth, empty prediction
        (np.zeros(shape, bool), np.full(shape, 128, np.uint8)),  # constant map (no min-max)
        (np.ones(shape, bool), np.full(shape, 127, np.uint8)),  # full truth, just below 0.5
        (np.ones(shape, bool), (rng.random(shape) * 255).astype(np.uint8)),
    ]
    for index in range(16):
        truth = _blobs(rng, shape, 2)
        probability = (rng.random(shape) * 255).astype(np.uint8)
        if index % 4 == 0:
            probability = np.where(_blobs(rng, shape, 1), 255, 0).astype(np.uint8)
        if index < len(edge):
            truth, probability = edge[index]
        merged.add(f"i{index}", image_values(truth, probability))
        pred = probability / 255.0 >= 0.5  # PraNet's rule, as written before
        tp = int((pred & truth).sum())
        n = int(pred.sum()) + int(truth.sum())
        dices.append(2 * tp / n if tp else 0.0)
        ious.append(tp / (n - tp) if tp else 0.0)
        polyp.append(bool(truth.any()))
        for metric in direct.values():
            metric.step(pred=probability, gt=truth.astype(np.uint8) * 255)
        if truth.any() and pred.any():
            hds.append(float(binary.hd(pred, truth)))
    result = merged.compute()
    assert result["s_measure"] == float(direct["sm"].get_results()["sm"])
    assert result["weighted_f"] == float(direct["wfm"].get_results()["wfm"])
    assert result["mae"] == float(direct["mae"].get_results()["mae"])
    em = direct["em"].get_results()["em"]
    assert result["e_measure_adaptive"] == float(em["adp"])
    assert result["e_measure_max"] == float(np.asarray(em["curve"], dtype=np.float64).max())
    assert result["e_measure_mean"] == float(np.asarray(em["curve"], dtype=np.float64).mean())
    assert result["boundary_hd"] == float(np.mean(hds))
    # PraNet's per-image rule, averaged over the truths that show a polyp (two edge cases do not).
    assert result["mean_dice_0.5"] == float(np.mean(np.array(dices)[polyp]))
    assert result["mean_iou_0.5"] == float(np.mean(np.array(ious)[polyp]))
    assert result["dice_undefined"] == 2 == polyp.count(False)
