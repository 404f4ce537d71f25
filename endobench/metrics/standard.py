"""Standard segmentation metrics, named apart from the EndoCV2021 challenge's.

- ``boundary_hd`` / ``boundary_hd95``: the Hausdorff distance (and its 95th percentile) between the
  boundary pixels of two masks, in pixels, from medpy. This is NOT the challenge's
  ``hausdorff_distance`` (a distance between mask rows, :mod:`endobench.metrics.row_hausdorff`).
  It is undefined when either mask is empty (medpy raises): endobench returns NaN for that image,
  leaves it out of the set's mean and counts it in ``boundary_hd_undefined``.
- ``pranet_dice`` / ``pranet_iou``: Dice and IoU of a probability map binarised at ``>= 0.5``,
  with the rule of PraNet's evaluation code (``Fmeasure_calu``): 0 when there is no true positive,
  even when both masks are empty. PraNet's MATLAB ``meanDic`` additionally averages over 256
  thresholds; endobench reports the 0.5 threshold, as PraNet's Python test scripts and its
  successors do, under the name ``mean_dice_0.5``. The set's mean is over the images whose truth
  shows a polyp: PraNet's test sets have no other, and by its rule a polyp-free frame scores 0
  whatever is predicted, so it would say nothing about the prediction. Polyp-free frames are
  counted in ``dice_undefined`` (the mean is NaN when every frame is polyp-free) and judged by the
  frame-level detection figures (:mod:`endobench.metrics.detection`).
- S-measure, E-measure (mean and max over PraNet's 256 thresholds, and adaptive), weighted
  F-measure and MAE from pysodmetrics, which takes a uint8 0-255 prediction (min-max normalised, as
  PraNet's MATLAB ``mapminmax``) and a truth thresholded at ``> 128``.

Truths are booleans here; give them as ``image > 127`` (the training convention).

Files: ``endobench run`` and ``endobench score --standard`` both go through :func:`file_values`
(called by the one set scorer, :mod:`endobench.metrics.set_scorer`; also
:meth:`StandardMetrics.update_from_files`), so the same files give the same numbers. Its one rule
for a prediction read from a file (channel 0, 8-bit): resized bilinearly to the truth's size when
the sizes differ, a pixel is polyp when its value is above 127 (probability >= 0.5). A mask file is
binarised by that rule before every metric, so JPEG noise around a 0/255 mask's edges counts as
background; an 8-bit probability map (``run --save-prob``) keeps its grey values for S-measure,
E-measure, weighted F and MAE. The truth file's pixel is polyp when its value is above 127.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Threshold of the probability map for PraNet's Dice and IoU.
PRANET_THRESHOLD = 0.5
#: An 8-bit pixel read from a file (truth or prediction) is polyp when its value is above this.
FILE_THRESHOLD = 127


def prediction_map(
    raw: np.ndarray, shape: tuple[int, int], probability: bool = False
) -> np.ndarray:
    """Return a prediction read from a file as the standard metrics take it.

    Args:
        raw: The file's pixels: ``H x W`` (or ``H x W x C``, channel 0 used) uint8, or bool.
        shape: ``(height, width)`` of the truth; other sizes are resized bilinearly.
        probability: The file is an 8-bit probability map: keep its grey values. Otherwise it is a
            mask, binarised to 0/255 at ``> FILE_THRESHOLD``.

    Returns:
        ``height x width`` uint8 0-255 map.

    Raises:
        ValueError: Not an 8-bit or boolean image.
    """
    raw = np.asarray(raw)
    if raw.ndim == 3:
        raw = raw[:, :, 0]
    if raw.dtype == bool:
        raw = raw.astype(np.uint8) * 255
    if raw.dtype != np.uint8 or raw.ndim != 2:
        raise ValueError(f"need an 8-bit or boolean image, got {raw.dtype} {raw.shape}")
    height, width = int(shape[0]), int(shape[1])
    if raw.shape != (height, width):
        import cv2

        raw = cv2.resize(np.ascontiguousarray(raw), (width, height), interpolation=cv2.INTER_LINEAR)
    if probability:
        return raw
    return (raw > FILE_THRESHOLD).view(np.uint8) * np.uint8(255)


def surface_distances(truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances between the boundary pixels of two non-empty masks, both ways, as medpy has them.

    A mask's boundary is the mask less its erosion by the 4-connected cross (pixels on the image's
    edge are boundary); each boundary pixel's distance is the Euclidean distance to the nearest
    boundary pixel of the other mask, exactly medpy's ``__surface_distances``. The distance
    transforms run on the bounding box of both boundaries only: every nearest boundary pixel lies
    inside it, so the distances are the same as on the whole image.

    Args:
        truth: ``H x W`` boolean mask, not empty.
        prediction: ``H x W`` boolean mask, not empty.

    Returns:
        ``(prediction -> truth, truth -> prediction)`` distances, in the pixels' row-major order.
    """
    from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

    cross = generate_binary_structure(2, 1)
    truth = np.atleast_1d(np.asarray(truth, dtype=bool))
    prediction = np.atleast_1d(np.asarray(prediction, dtype=bool))
    truth_border = truth ^ binary_erosion(truth, structure=cross, iterations=1)
    pred_border = prediction ^ binary_erosion(prediction, structure=cross, iterations=1)
    rows, cols = np.nonzero(truth_border | pred_border)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    truth_border, pred_border = truth_border[box], pred_border[box]
    pred_to_truth = distance_transform_edt(~truth_border)[pred_border]
    truth_to_pred = distance_transform_edt(~pred_border)[truth_border]
    return pred_to_truth, truth_to_pred


def boundary_hd_pair(truth: np.ndarray, prediction: np.ndarray) -> tuple[float, float]:
    """HD and HD95 of two masks from one surface-distance computation (:func:`surface_distances`).

    Equal to ``medpy.metric.binary.hd(prediction, truth)`` and ``hd95(prediction, truth)``, which
    each compute the same distances again.

    Returns:
        ``(hd, hd95)`` in pixels; both NaN when either mask is empty (undefined).
    """
    truth = np.asarray(truth, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    if not truth.any() or not prediction.any():
        return math.nan, math.nan
    pred_to_truth, truth_to_pred = surface_distances(truth, prediction)
    hd = max(pred_to_truth.max(), truth_to_pred.max())
    hd95 = np.percentile(np.hstack((pred_to_truth, truth_to_pred)), 95)
    return float(hd), float(hd95)


def boundary_hd(
    truth: np.ndarray, prediction: np.ndarray, percentile: float | None = None
) -> float:
    """Hausdorff distance between the boundaries of two binary masks, in pixels (as medpy's).

    Args:
        truth: ``H x W`` boolean mask.
        prediction: ``H x W`` boolean mask.
        percentile: None for the maximum (``medpy.metric.binary.hd``), 95 for HD95
            (``medpy.metric.binary.hd95``).

    Returns:
        The distance; NaN when either mask is empty (undefined).
    """
    if percentile not in (None, 95):
        raise ValueError(f"percentile must be None or 95, not {percentile!r}")
    hd, hd95 = boundary_hd_pair(truth, prediction)
    return hd if percentile is None else hd95


def boundary_hd95(truth: np.ndarray, prediction: np.ndarray) -> float:
    """95th-percentile boundary Hausdorff distance in pixels (as medpy's); NaN when a mask is empty."""
    return boundary_hd(truth, prediction, percentile=95)


def pranet_dice_iou(
    truth: np.ndarray, probability: np.ndarray, threshold: float = PRANET_THRESHOLD
) -> tuple[float, float]:
    """Dice and IoU of a probability map at ``>= threshold``, by PraNet's rules.

    Args:
        truth: ``H x W`` boolean mask.
        probability: ``H x W`` map, float in [0, 1] or uint8 0-255 (divided by 255).
        threshold: Foreground is ``probability >= threshold``.

    Returns:
        ``(dice, iou)``; both 0 when there is no true positive.
    """
    probability = np.asarray(probability)
    if probability.dtype == np.uint8:
        predicted = at_least(probability, threshold)
    else:
        predicted = probability >= threshold
    return _dice_iou(np.asarray(truth, dtype=bool), predicted)


def at_least(pixels: np.ndarray, threshold: float) -> np.ndarray:
    """``pixels / 255.0 >= threshold`` for uint8 pixels, by a 256-entry table (same booleans, no
    float image)."""
    return (np.arange(256) / 255.0 >= threshold)[pixels]


def _dice_iou(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    tp = int(np.count_nonzero(predicted & truth))
    if tp == 0:
        return 0.0, 0.0
    n_pred = int(np.count_nonzero(predicted))
    n_truth = int(np.count_nonzero(truth))
    return 2 * tp / (n_truth + n_pred), tp / (n_truth + n_pred - tp)


#: The pysodmetrics classes and the per-image lists their ``step`` appends to (read by ``add``).
SOD_STEPS = {
    "s_measure": ("Smeasure", ("sms",)),
    "e_measure": ("Emeasure", ("adaptive_ems", "changeable_ems")),
    "weighted_f": ("WeightedFmeasure", ("weighted_fms",)),
    "mae": ("MAE", ("maes",)),
}


def image_values(truth: np.ndarray, probability: np.ndarray, name: str = "") -> dict[str, Any]:
    """Every standard metric's per-image values for one image (what ``StandardMetrics`` averages).

    Independent of other images, so images can be computed in any order or process and added in
    order with :meth:`StandardMetrics.add`: the set's figures are then byte-identical.

    Args:
        truth: ``H x W`` boolean mask.
        probability: ``H x W`` uint8 0-255 probability map (a binary mask as 0/255).
        name: The image's name (for the error).

    Returns:
        ``hd``, ``hd95``, ``dice``, ``iou``, ``polyp`` (the truth has a foreground pixel) and, per
        pysodmetrics metric, the values its ``step`` recorded.

    Raises:
        ValueError: The map is not uint8 of the truth's shape.
    """
    import py_sod_metrics

    truth = np.asarray(truth, dtype=bool)
    probability = np.asarray(probability)
    if probability.dtype != np.uint8 or probability.shape != truth.shape:
        raise ValueError(
            f"{name}: need a uint8 map of the truth's shape {truth.shape}, got "
            f"{probability.dtype} {probability.shape}"
        )
    binary = at_least(probability, PRANET_THRESHOLD)
    hd, hd95 = boundary_hd_pair(truth, binary)
    dice, iou = _dice_iou(truth, binary)
    values: dict[str, Any] = {
        "hd": hd, "hd95": hd95, "dice": dice, "iou": iou, "polyp": bool(truth.any()),
    }  # fmt: skip
    pred, gt, options = _sod_inputs(probability, truth.astype(np.uint8) * 255)
    for key, (class_name, lists) in SOD_STEPS.items():
        metric = getattr(py_sod_metrics, class_name)()
        metric.step(pred=pred, gt=gt, **options)
        values[key] = [getattr(metric, attr)[0] for attr in lists]
    return values


def _sod_inputs(pred: np.ndarray, gt255: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """pysodmetrics' inputs, normalised once by its own ``prepare_data`` for all four metrics
    (each ``step`` would repeat it); read-only, so no metric can change them for the next.
    Versions without ``prepare_data`` get the raw maps and normalise in each ``step``."""
    try:
        from py_sod_metrics.utils import prepare_data
    except ImportError:
        return pred, gt255, {}
    pred, gt = prepare_data(pred, gt255)
    pred.setflags(write=False)
    gt.setflags(write=False)
    return pred, gt, {"normalize": False}


def file_values(
    name: str, raw_truth: np.ndarray, raw_prediction: np.ndarray, probability: bool = False
) -> dict[str, Any]:
    """:func:`image_values` of one image from its files' pixels, by the module docstring's rule.

    Raises:
        ScoringError: The prediction is not an 8-bit image (names the image).
    """
    from endobench.errors import ScoringError

    truth = np.asarray(raw_truth) > FILE_THRESHOLD
    try:
        prediction = prediction_map(raw_prediction, truth.shape, probability)
    except ValueError as err:
        raise ScoringError(f"{name}: {err}; save predictions as 8-bit images") from None
    return image_values(truth, prediction, name)


class StandardMetrics:
    """Accumulates the standard metrics over a set; ``update`` per image, ``compute`` at the end."""

    def __init__(self) -> None:
        import py_sod_metrics

        self._sod = {key: getattr(py_sod_metrics, cls)() for key, (cls, _) in SOD_STEPS.items()}
        self.names: list[str] = []
        self.hd: list[float] = []
        self.hd95: list[float] = []
        self.dice: list[float] = []
        self.iou: list[float] = []
        self.polyp: list[bool] = []

    def update(self, name: str, truth: np.ndarray, probability: np.ndarray) -> None:
        """Add one image.

        Args:
            name: The image's name.
            truth: ``H x W`` boolean mask.
            probability: ``H x W`` uint8 0-255 probability map (a binary mask as 0/255).
        """
        self.add(name, image_values(truth, probability, name))

    def add(self, name: str, values: dict[str, Any]) -> None:
        """Add one image's values from :func:`image_values` (images must come in the set's order)."""
        self.names.append(name)
        self.hd.append(values["hd"])
        self.hd95.append(values["hd95"])
        self.dice.append(values["dice"])
        self.iou.append(values["iou"])
        self.polyp.append(values["polyp"])
        for key, (_, lists) in SOD_STEPS.items():
            for attr, value in zip(lists, values[key], strict=True):
                getattr(self._sod[key], attr).append(value)

    def update_from_files(
        self,
        name: str,
        raw_truth: np.ndarray,
        raw_prediction: np.ndarray,
        probability: bool = False,
    ) -> None:
        """Add one image from its files' pixels, by the one rule of the module docstring.

        Args:
            name: The image's name.
            raw_truth: The truth file's ``H x W`` pixels (channel 0, as the toolkit reads it).
            raw_prediction: The prediction file's pixels, any size (see :func:`prediction_map`).
            probability: The prediction is an 8-bit probability map, not a mask.

        Raises:
            ScoringError: The prediction is not an 8-bit image (names the image).
        """
        self.add(name, file_values(name, raw_truth, raw_prediction, probability))

    def compute(self) -> dict[str, float]:
        """Return the set's standard metrics.

        Returns:
            ``mean_dice_0.5``, ``mean_iou_0.5``, ``s_measure``, ``e_measure_mean``,
            ``e_measure_max``, ``e_measure_adaptive``, ``weighted_f``, ``mae``, ``boundary_hd``,
            ``boundary_hd95`` (means over the images where they are defined, NaN if none),
            ``dice_undefined`` (polyp-free truths, left out of mDice and mIoU) and
            ``boundary_hd_undefined`` (how many images had an empty mask).
        """
        if not self.names:
            raise ValueError("no image was added")
        with_polyp = [i for i, polyp in enumerate(self.polyp) if polyp]
        em = self._sod["e_measure"].get_results()["em"]
        curve = np.asarray(em["curve"], dtype=np.float64)
        return {
            "mean_dice_0.5": _mean_at(self.dice, with_polyp),
            "mean_iou_0.5": _mean_at(self.iou, with_polyp),
            "s_measure": float(self._sod["s_measure"].get_results()["sm"]),
            "e_measure_mean": float(curve.mean()),
            "e_measure_max": float(curve.max()),
            "e_measure_adaptive": float(em["adp"]),
            "weighted_f": float(self._sod["weighted_f"].get_results()["wfm"]),
            "mae": float(self._sod["mae"].get_results()["mae"]),
            "boundary_hd": _nanmean(self.hd),
            "boundary_hd95": _nanmean(self.hd95),
            "boundary_hd_undefined": int(sum(math.isnan(v) for v in self.hd)),
            "dice_undefined": len(self.polyp) - len(with_polyp),
        }


def _mean_at(values: list[float], indices: list[int]) -> float:
    return float(np.mean([values[i] for i in indices])) if indices else math.nan


def _nanmean(values: list[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else math.nan
