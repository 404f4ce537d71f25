"""PraNet's eval/main.m figures: hand-computed cases, a pixel-by-pixel transcription of the
per-threshold formulas, pysodmetrics where the definitions agree, and MATLAB's own arithmetic
(colon operator, imresize, rgb2gray, 1-bit files)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from endobench.errors import ScoringError
from endobench.metrics.matlab_imresize import imresize
from endobench.metrics.pranet_eval import (
    EPS,
    FIGURES,
    THRESHOLDS,
    PraNetEval,
    image_figures,
    matlab_colon,
    naive_thresholds,
    normalised_levels,
)
from endobench.metrics.pranet_files import map_levels, read_truth, score_map_folder
from endobench.metrics.structure_measure import s_measure


def _figures(truth, levels, top=255):
    evaluation = PraNetEval()
    evaluation.update("x", np.asarray(truth, bool), np.asarray(levels), top)
    return evaluation.compute()


def test_matlab_colon_matches_mathworks_published_example():
    # MathWorks' answer on 0:0.1:0.3 vs 0:0.1:0.4: x - y(1:end-1) = [0 0 -0.2776 -0.5551] * 1e-16
    x = matlab_colon(0, 0.1, 0.3)
    y = matlab_colon(0, 0.1, 0.4)
    np.testing.assert_allclose(x - y[:-1], [0, 0, -2.7756e-17, -5.5511e-17], atol=1e-20)
    assert x[-1] == 0.3 and y[2] == 0.2  # the end point and the exact middle


def test_thresholds_are_symmetric_and_differ_from_octave_ranges():
    assert THRESHOLDS.size == 256 and THRESHOLDS[0] == 1 and THRESHOLDS[-1] == 0
    k = np.arange(128)
    assert np.array_equal(THRESHOLDS[255 - k], k * (1 / 255))  # second half counted from 0
    assert np.array_equal(THRESHOLDS[:128], 1 + k * (-1 / 255))
    differ = np.count_nonzero(THRESHOLDS != naive_thresholds())
    assert differ == 72  # last-bit differences in the second half


def test_normalisation_is_mapminmax_and_leaves_a_constant_map():
    levels = np.array([[0, 255], [51, 51]])
    assert np.array_equal(normalised_levels(levels, 255), np.arange(256) / 255)
    table = normalised_levels(np.array([[10, 20]]), 255)
    assert table[10] == 0 and table[20] == 1
    assert table[15] == (15 / 255 - 10 / 255) * (1 / (20 / 255 - 10 / 255))
    assert np.array_equal(normalised_levels(np.full((2, 2), 77), 255), np.arange(256) / 255)


def test_empty_truth_by_hand():
    values = _figures(np.zeros((2, 2)), [[0, 255], [0, 0]])
    # No true positive at any threshold: Fmeasure_calu gives 0 for all four (specificity too).
    for name in ("meanDic", "maxDic", "meanIoU", "maxIoU", "meanSen", "maxSen", "meanSpe"):
        assert values[name] == 0
    # E-measure of an all-black truth: (N - predicted) / (N - 1); predicted is 1 pixel at every
    # threshold above 0 and all 4 at threshold 0.
    assert values["maxEm"] == pytest.approx(1.0, abs=1e-15)
    assert values["meanEm"] == pytest.approx(255 / 256, abs=1e-15)
    assert values["Sm"] == 0.75 and values["MAE"] == 0.25 and values["wFm"] == 0


def test_constant_map_by_hand():
    truth = np.zeros((4, 4), bool)
    truth[:2, :2] = True
    p = 100 / 255  # mapminmax leaves a constant map as it is
    values = _figures(truth, np.full((4, 4), 100))
    on = np.count_nonzero(THRESHOLDS <= p)  # thresholds at which every pixel is polyp
    assert on in (100, 101)
    assert values["maxDic"] == pytest.approx(2 * 4 / (4 + 16))
    assert values["meanDic"] == pytest.approx(on / 256 * 0.4)
    assert values["meanIoU"] == pytest.approx(on / 256 * 0.25)
    assert values["maxSen"] == 1 and values["maxSpe"] == 0
    # Every pixel has alignment 0 (the binary map is constant): enhanced 1/4 each, 16/4 / 15.
    assert values["meanEm"] == pytest.approx(4 / 15) and values["maxEm"] == pytest.approx(4 / 15)
    fg = 2 * p / (p**2 + 1 + EPS)
    bg = 2 * (1 - p) / ((1 - p) ** 2 + 1 + EPS)
    # Centroid (1.5, 1.5), 1-based, rounds to 2: each quadrant is all polyp or all background
    # under a constant map, so each SSIM term is 1 and S_region is 1.
    assert values["Sm"] == pytest.approx(0.5 * (0.25 * fg + 0.75 * bg) + 0.5 * 1.0)
    assert values["MAE"] == pytest.approx((4 * (1 - p) + 12 * p) / 16)


def test_centroid_rounds_halves_away_from_zero_as_matlab():
    truth = np.zeros((6, 6), bool)
    truth[0:2, 0:2] = True  # centroid 1.5 (1-based): MATLAB 2, numpy's half-to-even 0-based 0 -> 1
    rng = np.random.default_rng(3)
    prediction = rng.random((6, 6))
    from py_sod_metrics import Smeasure

    pysod = Smeasure().cal_sm(prediction, truth)
    mine = s_measure(prediction, truth)
    assert mine != pytest.approx(pysod, abs=1e-6)
    truth[2, 2] = True  # centroid no longer a half: the two agree
    assert s_measure(prediction, truth) == pytest.approx(
        Smeasure().cal_sm(prediction, truth), abs=1e-14
    )


def _direct_curves(truth, prediction):
    """main.m's per-threshold loop, pixel by pixel (Fmeasure_calu.m, Enhancedmeasure.m)."""
    rows = []
    for threshold in THRESHOLDS:
        label = prediction >= threshold
        tp = np.count_nonzero(label & truth)
        num_rec, num_obj = np.count_nonzero(label), np.count_nonzero(truth)
        fn, fp = num_obj - tp, num_rec - tp
        tn = label.size - num_rec - fn
        if tp == 0:
            dic = iou = sen = spe = 0.0
        else:
            dic, iou = 2 * tp / (num_obj + num_rec), tp / (fn + num_rec)
            sen, spe = tp / num_obj, tn / (tn + fp)
        fm, gt = label.astype(float), truth.astype(float)
        if num_obj == 0:
            enhanced = 1.0 - fm
        elif num_obj == truth.size:
            enhanced = fm
        else:
            a_fm, a_gt = fm - fm.mean(), gt - gt.mean()
            align = 2.0 * (a_gt * a_fm) / (a_gt * a_gt + a_fm * a_fm + EPS)
            enhanced = ((align + 1) ** 2) / 4
        em = enhanced.sum() / (truth.size - 1 + EPS)
        rows.append((dic, iou, sen, spe, em))
    return dict(zip(("Dic", "IoU", "Sen", "Spe", "Em"), np.array(rows).T, strict=True))


@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535)])
def test_histogram_sweep_equals_the_pixel_loop(dtype, top):
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:40, :50]
    truth = (yy - 18) ** 2 + (xx - 22) ** 2 < 150
    blur = np.clip(truth * 0.7 + rng.normal(0.15, 0.2, truth.shape), 0, 1)
    levels = np.round(blur * top).astype(dtype)
    levels[0, 0], levels[0, 1] = 0, top  # spans the full range: every level on a threshold
    figures = image_figures(truth, levels, top)
    prediction = normalised_levels(levels.astype(np.int64), top)[levels.astype(np.int64)]
    for name, curve in _direct_curves(truth, prediction).items():
        np.testing.assert_allclose(figures.curves[name], curve, rtol=1e-13, atol=1e-15)


def test_parity_with_pysodmetrics_where_the_definitions_agree():
    from py_sod_metrics import MAE, Smeasure, WeightedFmeasure

    rng = np.random.default_rng(11)
    for _ in range(4):
        yy, xx = np.mgrid[:60, :70]
        cy, cx = rng.uniform(15, 45), rng.uniform(15, 55)
        truth = (yy - cy) ** 2 / 90 + (xx - cx) ** 2 / 140 < 1
        levels = np.clip(truth * 180 + rng.normal(40, 35, truth.shape), 0, 255).astype(np.uint8)
        mine = image_figures(truth, levels, 255).scalars
        gt = truth.astype(np.uint8) * 255
        metrics = {"MAE": MAE(), "wFm": WeightedFmeasure(), "Sm": Smeasure()}
        for metric in metrics.values():
            metric.step(levels, gt)
        assert mine["MAE"] == pytest.approx(metrics["MAE"].get_results()["mae"], abs=1e-12)
        assert mine["wFm"] == pytest.approx(metrics["wFm"].get_results()["wfm"], abs=1e-12)
        centroid = np.argwhere(truth).mean(axis=0)
        if not np.any(np.isclose(centroid % 1, 0.5)):  # the centroid rounding is the difference
            assert mine["Sm"] == pytest.approx(metrics["Sm"].get_results()["sm"], abs=1e-12)


def test_imresize_by_hand_against_matlabs_kernel():
    # Upscaling 1x2 -> 1x4: weights (1.09375, -0.09375), (0.796875, 0.203125), mirrored.
    assert imresize(np.array([[0, 255]], np.uint8), (1, 4)).tolist() == [[0, 52, 203, 255]]
    # Downscaling 1x4 -> 1x2 with antialiasing: (0.546875, 0.3984375, 0.1015625, -0.046875).
    assert imresize(np.array([[0, 0, 255, 255]], np.uint8), (1, 2)).tolist() == [[14, 241]]
    constant = np.full((37, 23), 77, np.uint16)
    assert np.array_equal(imresize(constant, (11, 50)), np.full((11, 50), 77, np.uint16))


def test_map_of_another_size_is_resized_as_matlab_before_scoring():
    truth = np.zeros((1, 4), bool)
    truth[0, 2:] = True
    levels, top = map_levels(np.array([[0, 255]], np.uint8), (1, 4), "m.png")
    assert top == 255 and levels.tolist() == [[0, 52, 203, 255]]
    import cv2

    opencv = cv2.resize(np.array([[0, 255]], np.uint8), (4, 1), interpolation=cv2.INTER_CUBIC)
    assert opencv.tolist() != levels.tolist()


def test_truth_rules_one_bit_grey_and_colour(tmp_path):
    one_bit = np.zeros((3, 4), bool)
    one_bit[1, 1:3] = True
    Image.fromarray(one_bit).save(tmp_path / "bits.png")  # 1-bit: logical, not "> 128"
    assert np.array_equal(read_truth(tmp_path / "bits.png"), one_bit)
    grey = np.array([[128, 129, 255, 0]], np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert read_truth(tmp_path / "grey.png").tolist() == [[False, True, True, False]]
    # rgb2gray: round(0.298936 R + 0.587043 G + 0.114021 B) > 128
    colour = np.array([[[255, 0, 0], [0, 255, 0], [130, 130, 130], [0, 0, 255]]], np.uint8)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    assert read_truth(tmp_path / "colour.png").tolist() == [[False, True, True, False]]


def test_one_bit_and_16_bit_maps(tmp_path):
    bits = np.zeros((4, 4), bool)
    bits[:2, :2] = True
    Image.fromarray(bits).save(tmp_path / "a.png")
    truth = bits.copy()
    Image.fromarray(truth).save(tmp_path / "gt_a.png")
    (tmp_path / "gt").mkdir()
    (tmp_path / "maps").mkdir()
    (tmp_path / "gt_a.png").rename(tmp_path / "gt" / "a.png")
    (tmp_path / "a.png").rename(tmp_path / "maps" / "a_prob.png")
    values = score_map_folder(tmp_path / "gt", tmp_path / "maps").figures
    # Perfect at every threshold but 0, where every pixel is polyp: Dice 2*4 / (4 + 16).
    assert values["maxDic"] == 1 and values["MAE"] == 0
    assert values["meanDic"] == pytest.approx((255 + 0.4) / 256, abs=1e-15)
    small = np.zeros((2, 2), bool)
    small[0, 0] = True  # imresize of a 1-bit map: to uint8, bicubic, then > 128
    levels, top = map_levels(small, (4, 4), "small.png")
    assert top == 1 and np.array_equal(levels, (imresize(small * np.uint8(255), (4, 4)) > 128))
    sixteen = (bits * 65535).astype(np.uint16)
    assert _figures(truth, sixteen, 65535) == values
    assert list(values) == list(FIGURES)


def test_folder_pairing_errors(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "maps").mkdir()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "gt" / "a.png")
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "gt" / "b.png")
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "maps" / "a_prob.png")
    with pytest.raises(ScoringError, match="1 of 2 truths have no map"):
        score_map_folder(tmp_path / "gt", tmp_path / "maps")
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "maps" / "a.png")
    with pytest.raises(ScoringError, match="both the map of a"):
        score_map_folder(tmp_path / "gt", tmp_path / "maps")


def test_empty_set_is_nan():
    assert all(math.isnan(v) for v in PraNetEval().compute().values())
