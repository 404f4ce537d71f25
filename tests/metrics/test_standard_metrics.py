"""Standard metrics: the medpy and pysodmetrics wrappers against direct library calls."""

from __future__ import annotations

import math

import numpy as np
import py_sod_metrics
import pytest
from mask_cases import blob
from medpy.metric import binary

from endobench.metrics import score_arrays
from endobench.metrics.standard import StandardMetrics, boundary_hd, boundary_hd95, pranet_dice_iou


def _pairs(seed=0, n=3, shape=(96, 128)):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        truth = blob(shape, rng).astype(bool)
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        soft = np.clip(blob(shape, rng) * 200 + (xx * 50 // shape[1]), 0, 255).astype(np.uint8)
        out.append((f"p{i}", truth, soft))
    return out


def test_boundary_hd_matches_medpy_and_is_nan_when_empty():
    rng = np.random.default_rng(1)
    a, b = blob((80, 90), rng).astype(bool), blob((80, 90), rng).astype(bool)
    assert boundary_hd(a, b) == binary.hd(b, a)
    assert boundary_hd95(a, b) == binary.hd95(b, a)
    empty = np.zeros_like(a)
    assert math.isnan(boundary_hd(a, empty)) and math.isnan(boundary_hd95(empty, b))


def test_pranet_dice_iou_at_half():
    truth = np.zeros((10, 10), bool)
    truth[:5] = True  # 50 pixels
    prob = np.zeros((10, 10), np.float64)
    prob[3:8] = 0.5  # 50 pixels at exactly the threshold count as foreground; 20 overlap
    dice, iou = pranet_dice_iou(truth, prob)
    assert dice == pytest.approx(2 * 20 / 100)
    assert iou == pytest.approx(20 / 80)
    assert pranet_dice_iou(truth, np.zeros((10, 10))) == (0.0, 0.0)
    assert pranet_dice_iou(np.zeros((10, 10), bool), np.zeros((10, 10))) == (0.0, 0.0)


def test_standard_metrics_equal_direct_library_calls():
    pairs = _pairs()
    ours = StandardMetrics()
    sm, em, wfm, mae = (
        py_sod_metrics.Smeasure(),
        py_sod_metrics.Emeasure(),
        py_sod_metrics.WeightedFmeasure(),
        py_sod_metrics.MAE(),
    )
    hd, dice = [], []
    for name, truth, soft in pairs:
        ours.update(name, truth, soft)
        for metric in (sm, em, wfm, mae):
            metric.step(pred=soft, gt=truth.astype(np.uint8) * 255)
        hd.append(binary.hd95(soft >= 128, truth))
        inter = np.logical_and(soft >= 128, truth).sum()
        dice.append(2 * inter / ((soft >= 128).sum() + truth.sum()))
    result = ours.compute()
    curve = em.get_results()["em"]["curve"]
    assert result["s_measure"] == sm.get_results()["sm"]
    assert result["e_measure_mean"] == pytest.approx(curve.mean(), abs=1e-15)
    assert result["e_measure_max"] == curve.max()
    assert result["e_measure_adaptive"] == em.get_results()["em"]["adp"]
    assert result["weighted_f"] == wfm.get_results()["wfm"]
    assert result["mae"] == mae.get_results()["mae"]
    assert result["boundary_hd95"] == pytest.approx(np.mean(hd))
    assert result["mean_dice_0.5"] == pytest.approx(np.mean(dice))
    assert result["boundary_hd_undefined"] == 0


def test_score_arrays_reports_standard_metrics_and_counts_undefined_hd():
    pairs = _pairs(seed=4, n=2)
    name, truth, _ = pairs[0]
    pairs.append(("empty", truth, np.zeros_like(truth, dtype=np.uint8)))
    result = score_arrays(pairs, standard=True)
    assert result.standard is not None
    assert result.standard["boundary_hd_undefined"] == 1
    assert math.isfinite(result.standard["boundary_hd"])
    assert set(result.standard) >= {
        "s_measure",
        "e_measure_mean",
        "weighted_f",
        "mae",
        "mean_iou_0.5",
    }


def test_polyp_free_frames_leave_mean_dice_undefined_and_out_of_the_mean():
    from endobench.leaderboard.records import standard_scores

    empty = np.zeros((32, 32), bool)
    metrics = StandardMetrics()
    metrics.update("clear", empty, np.zeros((32, 32), np.uint8))
    metrics.update("false alarm", empty, np.full((32, 32), 255, np.uint8))
    result = metrics.compute()
    # PraNet's rule scores both 0 whatever was predicted: the set mean is undefined, not 0.
    assert math.isnan(result["mean_dice_0.5"]) and math.isnan(result["mean_iou_0.5"])
    assert result["dice_undefined"] == 2
    assert "mdice" not in standard_scores(result) and "mae" in standard_scores(result)

    truth = np.zeros((32, 32), bool)
    truth[8:24, 8:24] = True
    half = np.zeros((32, 32), np.uint8)
    half[8:24, 8:16] = 255
    metrics.update("polyp", truth, half)
    result = metrics.compute()
    assert result["mean_dice_0.5"] == pytest.approx(2 * 128 / (256 + 128))
    assert result["mean_iou_0.5"] == pytest.approx(0.5) and result["dice_undefined"] == 2
