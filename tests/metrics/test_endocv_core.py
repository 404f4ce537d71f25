"""Per-image EndoCV2021 scores against scikit-learn, the hausdorff package and the toolkit's flow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hausdorff import hausdorff_distance
from mask_cases import blob, case_pairs, noise
from sklearn import metrics as skm
from toolkit_reference import reference_image_scores, reference_prepare

from endobench.metrics import (
    ConfusionCounts,
    confusion_counts,
    prepare_prediction,
    row_hausdorff,
    score_masks,
    score_pair,
)

CASES = case_pairs(seed=2021)


@pytest.mark.parametrize("label,truth,pred", CASES, ids=[c[0] for c in CASES])
def test_scores_match_the_toolkit_formulas_sklearn_and_hausdorff(label, truth, pred):
    ours = score_masks(truth, pred).as_dict()
    reference = reference_image_scores(truth, pred)
    for key, value in reference.items():
        # The same float operations in the same order: equal bit for bit, not just to 1e-12.
        assert ours[key] == float(value), key

    tn, fp, fn, tp = skm.confusion_matrix(truth.ravel(), pred.ravel(), labels=[0, 1]).ravel()
    assert confusion_counts(truth, pred) == ConfusionCounts(tn=tn, fp=fp, fn=fn, tp=tp)
    assert ours["accuracy"] == pytest.approx(
        skm.accuracy_score(truth.ravel(), pred.ravel()), abs=1e-12
    )
    if truth.any() and pred.any():
        y, p = truth.ravel(), pred.ravel()
        assert ours["jaccard"] == pytest.approx(skm.jaccard_score(y, p), abs=1e-12)
        assert ours["dice"] == pytest.approx(skm.f1_score(y, p), abs=1e-12)
        assert ours["ppv"] == pytest.approx(skm.precision_score(y, p), abs=1e-12)
        assert ours["recall"] == pytest.approx(skm.recall_score(y, p), abs=1e-12)
        if skm.precision_score(y, p) > 0:
            assert ours["f2"] == pytest.approx(skm.fbeta_score(y, p, beta=2), abs=1e-12)


def test_smoothing_edge_cases_score_as_documented():
    truth = np.zeros((288, 384), np.uint8)
    truth[100:150, 100:200] = 1
    empty = np.zeros_like(truth)
    empty_pred = score_masks(truth, empty)
    assert empty_pred.ppv == 1.0 and empty_pred.recall < 1e-15 and empty_pred.dice < 1e-15
    empty_truth = score_masks(empty, truth)
    assert empty_truth.recall == 1.0 and empty_truth.ppv < 1e-15
    both = score_masks(empty, empty)
    assert (both.jaccard, both.dice, both.ppv, both.recall, both.accuracy) == (
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert both.f2 == pytest.approx(1.0, abs=1e-12)
    assert both.hausdorff == 0.0


def test_row_hausdorff_is_exact_on_many_repeated_rows():
    rng = np.random.default_rng(7)
    for _ in range(30):
        h_a, h_b, w = rng.integers(1, 90), rng.integers(1, 90), rng.integers(1, 200)
        palette_a = noise((3, w), rng, 0.4)
        palette_b = noise((4, w), rng, 0.6)
        a = palette_a[rng.integers(0, 3, size=h_a)]  # different heights: the package allows it
        b = palette_b[rng.integers(0, 4, size=h_b)]
        assert row_hausdorff(a, b) == hausdorff_distance(a, b, distance="euclidean")


def test_row_hausdorff_is_the_row_set_distance_not_the_boundary_one():
    # Two single pixels 100 rows apart: both masks hold the same SET of rows (an all-zero row and
    # the row with a pixel in column 5), so the toolkit's distance is 0, not 100.
    a = np.zeros((200, 50), np.uint8)
    b = np.zeros((200, 50), np.uint8)
    a[10, 5] = 1
    b[110, 5] = 1
    assert row_hausdorff(a, b) == 0.0 == hausdorff_distance(a, b, distance="euclidean")
    b[110, 6] = 1  # now b's pixel row is one bit away from a's and two from the zero row
    assert row_hausdorff(a, b) == 1.0 == hausdorff_distance(a, b, distance="euclidean")


@pytest.mark.parametrize(
    "pred_shape", [(288, 384), (576, 768), (144, 192), (300, 400), (1080, 1350), (250, 333)]
)
def test_prepare_prediction_matches_the_toolkit_three_channel_resize(pred_shape):
    rng = np.random.default_rng(sum(pred_shape))
    truth_shape = (288, 384)
    pred = blob(pred_shape, rng, 3) * 255
    pred[noise(pred_shape, rng, 0.02) == 1] = 40
    bgr = np.repeat(pred[:, :, None], 3, axis=2)
    bgr[:, :, 1] = 0  # channel 0 must be the one used
    gt_bgr = np.zeros((*truth_shape, 3), np.uint8)
    _, expected = reference_prepare(gt_bgr, bgr)
    ours = prepare_prediction(bgr, truth_shape)
    assert ours.dtype == np.uint8 and ours.shape == truth_shape
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("quality", [75, 95])
def test_jpeg_round_trip_pairs_score_like_the_toolkit(tmp_path, quality):
    rng = np.random.default_rng(quality)
    truth = blob((576, 720), rng) * 255
    pred = blob((600, 800), rng) * 255
    cv2.imwrite(str(tmp_path / "t.jpg"), truth, [cv2.IMWRITE_JPEG_QUALITY, quality])
    cv2.imwrite(str(tmp_path / "p.jpg"), pred, [cv2.IMWRITE_JPEG_QUALITY, quality])
    gt_bgr = cv2.imread(str(tmp_path / "t.jpg"))
    pred_bgr = cv2.imread(str(tmp_path / "p.jpg"))
    gt01, pred01 = reference_prepare(gt_bgr, pred_bgr)
    # JPEG noise makes "> 0" differ from the clean mask: the quirk must be kept.
    assert gt01.sum() > (truth > 0).sum()
    reference = reference_image_scores(gt01, pred01)
    ours = score_pair(gt_bgr[:, :, 0] > 0, pred_bgr).as_dict()
    for key, value in reference.items():
        assert ours[key] == float(value), key


def test_non_binary_masks_are_rejected():
    with pytest.raises(ValueError, match="0 and 1"):
        score_masks(np.full((4, 4), 255, np.uint8), np.zeros((4, 4), np.uint8))


def test_row_hausdorff_without_numpy_bitwise_count(monkeypatch):
    """The byte-table popcount used before numpy 2 gives the same distances."""
    rng = np.random.default_rng(3)
    a, b = blob((120, 150), rng), noise((120, 150), rng, 0.05)
    expected = hausdorff_distance(a, b, distance="euclidean")
    if hasattr(np, "bitwise_count"):
        monkeypatch.delattr(np, "bitwise_count")
    assert row_hausdorff(a, b) == expected
