"""The 13 figures of PraNet's ``eval/main.m``: the numbers in the polyp segmentation tables.

PraNet's MATLAB evaluation (DengPingFan/PraNet, ``eval/``) is what PraNet, Polyp-PVT, UACANet,
CaraNet and most later papers report. Per image it takes the map as ``im2double`` values, min-max
normalises them (``mapminmax``; a constant map is left as it is), then

- ``Sm``: S-measure (:mod:`endobench.metrics.structure_measure`), ``wFm``: weighted F-measure
  (pysodmetrics' ``WeightedFmeasure.cal_wfm``, the same steps as ``original_WFb.m``), ``MAE``;
- at each of the 256 thresholds ``1:-1/255:0`` (``map >= t``): Dice, IoU, sensitivity and
  specificity as ``Fmeasure_calu.m`` (all 0 when no pixel is a true positive), and the E-measure
  of the binarised map (``Enhancedmeasure.m``).

Over a set: ``meanX`` is the mean over images, then over the thresholds; ``maxX`` the maximum
over the thresholds of the mean over images.

Everything that decides a pixel's side of a threshold is computed with MATLAB's own floating point
steps, because an 8-bit map spanning 0..255 puts every level exactly on a threshold:

- the thresholds are MATLAB's colon operator: ``1 - k d`` for the first half, ``k d`` for the
  second (``d = 1/255``), not ``1 - k d`` throughout (Octave's ranges, which differ in the last
  bit at 72 of the 256 thresholds);
- the normalised value is ``mapminmax``'s ``(x - xmin) * (1 / (xmax - xmin))``.

Speed: an image's map holds at most 256 (65536 for 16-bit) levels, so the threshold sweep is two
histograms (all pixels, truth pixels) and suffix sums, not 256 passes over the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from endobench.metrics.structure_measure import EPS, s_measure

#: main.m's figure names, in the order of PraNet's tables.
FIGURES = (
    "meanDic",
    "meanIoU",
    "wFm",
    "Sm",
    "meanEm",
    "maxEm",
    "MAE",
    "maxDic",
    "maxIoU",
    "meanSen",
    "maxSen",
    "meanSpe",
    "maxSpe",
)
#: The per-threshold curves, and the figures each gives (mean, max).
CURVES = {
    "Dic": ("meanDic", "maxDic"),
    "IoU": ("meanIoU", "maxIoU"),
    "Sen": ("meanSen", "maxSen"),
    "Spe": ("meanSpe", "maxSpe"),
    "Em": ("meanEm", "maxEm"),
}
#: Figures that are means over images of one number per image.
SCALARS = ("wFm", "Sm", "MAE")
#: The JSON key of the block.
JSON_KEY = "pranet_eval"


def matlab_colon(start: float, step: float, stop: float) -> np.ndarray:
    """``start:step:stop`` as MATLAB builds it: symmetric about the middle.

    The first half is ``start + k step``, the second ``last - k step`` counted from the end
    (``last`` is ``stop`` when ``start + n step`` lands within rounding of it), and the middle
    element of an odd count is ``(start + last) / 2``. Octave (and numpy) compute
    ``start + k step`` throughout, which differs in the last bit.
    """
    tolerance = 2.0 * np.finfo(np.float64).eps * max(abs(start), abs(stop))
    sign = np.sign(step)
    count = int(np.round((stop - start) / step))
    if sign * (start + count * step - stop) > tolerance:
        count -= 1
    if count < 0:
        return np.empty(0)
    last = start + count * step
    if sign * (last - stop) > -tolerance:
        last = stop
    k = np.arange(count // 2 + 1, dtype=np.float64)
    values = np.empty(count + 1)
    values[: k.size] = start + k * step
    values[count - k.astype(int)] = last - k * step
    if count % 2 == 0:
        values[count // 2] = (start + last) / 2
    return values


def matlab_thresholds() -> np.ndarray:
    """main.m's ``Thresholds = 1:-1/255:0`` (256 values) as MATLAB computes them."""
    return matlab_colon(1.0, -1 / 255, 0.0)


def naive_thresholds() -> np.ndarray:
    """``1 + k (-1/255)`` for every k, the last set to 0: Octave's range (tests only compare)."""
    values = 1 + np.arange(256, dtype=np.float64) * (-1 / 255)
    values[-1] = 0.0
    return values


THRESHOLDS = matlab_thresholds()


def normalised_levels(levels: np.ndarray, top: int) -> np.ndarray:
    """``mapminmax(im2double(v), 0, 1)`` of every level ``v`` in ``0..top`` for one map.

    Args:
        levels: The map's integer values (uint8, uint16 or 0/1).
        top: The type's maximum (255, 65535, or 1 for a 1-bit map): ``im2double`` divides by it.

    Returns:
        A ``top + 1`` table, non-decreasing, of the normalised value of each level.
    """
    table = np.arange(top + 1, dtype=np.float64) / top
    low, high = table[int(levels.min())], table[int(levels.max())]
    spread = high - low
    if spread == 0 or not np.isfinite(spread) or abs(1 / spread) > 1e14:
        return table  # mapminmax's "fix": gain 1, offset ymin = 0, the values unchanged
    return (table - low) * (1 / spread) + 0.0


@dataclass
class ImageFigures:
    """One image's contribution: a curve of 256 values per curve name, and the three scalars."""

    curves: dict[str, np.ndarray]
    scalars: dict[str, float]


def threshold_curves(
    truth: np.ndarray, levels: np.ndarray, table: np.ndarray, thresholds: np.ndarray = THRESHOLDS
) -> dict[str, np.ndarray]:
    """Dice, IoU, sensitivity, specificity and E-measure of ``table[levels] >= t`` at each t.

    Args:
        truth: ``HxW`` boolean truth.
        levels: ``HxW`` integer map.
        table: Its normalised value per level (:func:`normalised_levels`).
        thresholds: The thresholds (MATLAB's by default).

    Returns:
        Curve name -> array over the thresholds.
    """
    bins = table.size
    all_counts = np.bincount(levels.ravel(), minlength=bins)
    truth_counts = np.bincount(levels[truth], minlength=bins)
    first = np.searchsorted(table, thresholds, side="left")  # first level with value >= t
    predicted = np.append(np.cumsum(all_counts[::-1])[::-1], 0)[first].astype(np.float64)
    tp = np.append(np.cumsum(truth_counts[::-1])[::-1], 0)[first].astype(np.float64)
    pixels = float(truth.size)
    objects = float(truth_counts.sum())
    fn = objects - tp
    fp = predicted - tp
    tn = (pixels - predicted) - fn
    hit = tp > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = {
            "Dic": np.where(hit, 2 * tp / (objects + predicted), 0.0),
            "IoU": np.where(hit, tp / (fn + predicted), 0.0),
            "Sen": np.where(hit, tp / objects, 0.0),
            "Spe": np.where(hit, tn / (tn + fp), 0.0),
        }
    curves["Em"] = e_measure_curve(tp, fp, fn, tn, objects, pixels)
    return curves


def e_measure_curve(tp, fp, fn, tn, objects: float, pixels: float) -> np.ndarray:
    """``Enhancedmeasure.m`` of the binarised map at each threshold, from its four counts.

    Every pixel of one kind (prediction, truth) has the same enhanced alignment value, so the
    sum over the pixels is a sum over the four kinds.
    """
    predicted = tp + fp
    if objects == 0:
        total = pixels - predicted
    elif objects == pixels:
        total = predicted
    else:
        mu_fm = predicted / pixels
        mu_gt = objects / pixels
        total = np.zeros_like(tp)
        for fm, gt, count in ((1, 1, tp), (1, 0, fp), (0, 1, fn), (0, 0, tn)):
            align_fm = fm - mu_fm
            align_gt = gt - mu_gt
            align = 2.0 * (align_gt * align_fm) / (align_gt * align_gt + align_fm * align_fm + EPS)
            total = total + count * (((align + 1) ** 2) / 4)
    return total / (pixels - 1 + EPS)


def weighted_f(prediction: np.ndarray, truth: np.ndarray) -> float:
    """``original_WFb.m`` by pysodmetrics; 0 for a truth without polyp (main.m stops there)."""
    if not truth.any():
        return 0.0
    from py_sod_metrics import WeightedFmeasure

    return float(WeightedFmeasure().cal_wfm(prediction, truth))


def image_figures(
    truth: np.ndarray, levels: np.ndarray, top: int, thresholds: np.ndarray = THRESHOLDS
) -> ImageFigures:
    """Everything main.m computes for one image, from its truth and integer map (same size).

    Args:
        truth: ``HxW`` boolean truth.
        levels: ``HxW`` integer map (already at the truth's size).
        top: The map type's maximum (255, 65535, 1).
        thresholds: The thresholds (MATLAB's by default).
    """
    if truth.shape != levels.shape:
        raise ValueError(f"truth {truth.shape} and map {levels.shape} differ in size")
    levels = levels.astype(np.int64, copy=False)
    table = normalised_levels(levels, top)
    prediction = table[levels]
    scalars = {
        "wFm": weighted_f(prediction, truth),
        "Sm": s_measure(prediction, truth),
        "MAE": float(np.mean(np.abs(truth - prediction))),
    }
    return ImageFigures(threshold_curves(truth, levels, table, thresholds), scalars)


class PraNetEval:
    """The set accumulator: ``update`` once per image, ``compute`` for the 13 figures."""

    def __init__(self, thresholds: np.ndarray = THRESHOLDS):
        self.thresholds = thresholds
        self.names: list[str] = []
        self._images: list[ImageFigures] = []

    def __len__(self) -> int:
        return len(self._images)

    def update(
        self, name: str, truth: np.ndarray, levels: np.ndarray, top: int = 255
    ) -> ImageFigures:
        """Add one image (truth and integer map of the same size); return its figures."""
        figures = image_figures(truth, levels, top, self.thresholds)
        self.add(name, figures)
        return figures

    def add(self, name: str, figures: ImageFigures) -> None:
        """Add one image's figures computed elsewhere (a worker process, say)."""
        self.names.append(name)
        self._images.append(figures)

    def compute(self) -> dict[str, float]:
        """The 13 figures in :data:`FIGURES` order (NaN on an empty set)."""
        if not self._images:
            return {name: float("nan") for name in FIGURES}
        values: dict[str, float] = {}
        for curve, (mean_name, max_name) in CURVES.items():
            column = np.mean(np.stack([image.curves[curve] for image in self._images]), axis=0)
            values[mean_name] = float(np.mean(column))
            values[max_name] = float(np.max(column))
        for name in SCALARS:
            values[name] = float(np.mean([image.scalars[name] for image in self._images]))
        return {name: values[name] for name in FIGURES}
