"""S-measure (Fan et al., ICCV 2017) as PraNet's ``StructureMeasure.m`` computes it.

pysodmetrics' ``Smeasure`` is the same formula except for one step: it rounds the truth's
centroid with numpy (half to even, on 0-based coordinates) where MATLAB's ``round`` takes halves
away from zero (on 1-based coordinates). On a truth whose centroid falls on a half pixel in an
even 0-based column or row, the quadrants differ by one line and so does the score. This module
rounds as MATLAB does; everything else is the published formula, step for step.
"""

from __future__ import annotations

import numpy as np

EPS = np.finfo(np.float64).eps


def matlab_round(value: float) -> int:
    """MATLAB's ``round``: to the nearest integer, halves away from zero."""
    return int(np.sign(value) * np.floor(abs(value) + 0.5))


def s_measure(prediction: np.ndarray, truth: np.ndarray) -> float:
    """S-measure of a map in [0, 1] against a boolean truth (``StructureMeasure.m``).

    Args:
        prediction: ``HxW`` float64 map in [0, 1].
        truth: ``HxW`` boolean truth.

    Returns:
        The score; NaN where MATLAB's is (a quadrant of zero pixels, its weight 0, gives 0 * NaN).
    """
    share = np.count_nonzero(truth) / truth.size
    if share == 0:
        return float(1.0 - np.mean(prediction))
    if share == 1:
        return float(np.mean(prediction))
    score = 0.5 * _s_object(prediction, truth) + 0.5 * _s_region(prediction, truth)
    return float(0.0 if score < 0 else score)


def _object_score(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    mean = np.mean(values)
    sigma = np.std(values, ddof=1) if values.size > 1 else 0.0
    return 2.0 * mean / (mean**2 + 1.0 + sigma + EPS)


def _s_object(prediction: np.ndarray, truth: np.ndarray) -> float:
    share = np.count_nonzero(truth) / truth.size
    foreground = _object_score(prediction[truth])
    background = _object_score((1.0 - prediction)[~truth])
    return share * foreground + (1 - share) * background


def _centroid(truth: np.ndarray) -> tuple[int, int]:
    """MATLAB's 1-based ``(X, Y)``: the rounded mean column and row of the truth's pixels."""
    rows, cols = truth.shape
    total = np.count_nonzero(truth)
    x = np.sum(np.sum(truth, axis=0) * np.arange(1, cols + 1)) / total
    y = np.sum(np.sum(truth, axis=1) * np.arange(1, rows + 1)) / total
    return matlab_round(x), matlab_round(y)


def _s_region(prediction: np.ndarray, truth: np.ndarray) -> float:
    x, y = _centroid(truth)
    height, width = truth.shape
    area = width * height
    w1 = (x * y) / area
    w2 = ((width - x) * y) / area
    w3 = (x * (height - y)) / area
    w4 = 1.0 - w1 - w2 - w3
    quadrants = (
        (slice(0, y), slice(0, x), w1),
        (slice(0, y), slice(x, width), w2),
        (slice(y, height), slice(0, x), w3),
        (slice(y, height), slice(x, width), w4),
    )
    return sum(weight * _ssim(prediction[r, c], truth[r, c]) for r, c, weight in quadrants)


def _ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    count = prediction.size
    if count == 0:
        return float("nan")  # MATLAB's mean2 of an empty region
    dtruth = truth.astype(np.float64)
    x = np.mean(prediction)
    y = np.mean(dtruth)
    sigma_x2 = np.sum((prediction - x) ** 2) / (count - 1 + EPS)
    sigma_y2 = np.sum((dtruth - y) ** 2) / (count - 1 + EPS)
    sigma_xy = np.sum((prediction - x) * (dtruth - y)) / (count - 1 + EPS)
    alpha = 4 * x * y * sigma_xy
    beta = (x**2 + y**2) * (sigma_x2 + sigma_y2)
    if alpha != 0:
        return float(alpha / (beta + EPS))
    return 1.0 if beta == 0 else 0.0
