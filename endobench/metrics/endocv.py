"""EndoCV2021 per-image scores, computed exactly as the official segmentation toolkit computes them.

The toolkit (sharib-vision/EndoCV2021-polyp_det_seg_gen: ``compute_seg.py`` and ``metrics_seg.py``)
prepares a pair and scores it this way, quirks included, and so does this module:

- truth: ``cv2.imread(file) > 0``, channel 0 (JPEG noise around the edges counts as polyp);
- prediction: ``cv2.imread(file) > 0`` as uint8 0/1, resized to the truth's size with
  ``cv2.INTER_AREA``, channel 0;
- Jaccard, Dice, precision (PPV) and recall as count ratios with ``1e-15`` added to numerator and
  denominator, so an empty prediction has PPV 1, an empty truth recall 1, and both empty score 1;
- F2 = ``5 P R / (4 P + R + 1e-15)`` (stored under the toolkit's key ``typeIIerror``);
- accuracy = ``(TP + TN) / N``;
- the Hausdorff distance between the masks' rows (:mod:`endobench.metrics.row_hausdorff`).

Everything here is pure numpy on arrays; reading files is in :mod:`endobench.metrics.folders`.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np

from endobench.metrics.row_hausdorff import row_hausdorff

#: Added to numerator and denominator of every ratio, as in the toolkit.
SMOOTH = 1e-15
#: The F-score's beta: the toolkit's F2.
F_BETA = 2
#: Column names of the per-image CSV, in order.
CSV_COLUMNS = ("image", "jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff")


@dataclass(frozen=True)
class ConfusionCounts:
    """Pixel counts of one truth/prediction pair."""

    tn: int
    fp: int
    fn: int
    tp: int

    @property
    def total(self) -> int:
        """The number of pixels."""
        return self.tn + self.fp + self.fn + self.tp


@dataclass(frozen=True)
class ImageScores:
    """The toolkit's seven scores of one image (``hausdorff`` is the row-wise distance in pixels)."""

    jaccard: float
    dice: float
    f2: float
    ppv: float
    recall: float
    accuracy: float
    hausdorff: float

    def as_dict(self) -> dict[str, float]:
        """Return the scores keyed by their CSV column names."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_tuple(self) -> tuple[float, ...]:
        """Return the scores in CSV column order (without the image name)."""
        return astuple(self)


def binarize(mask: np.ndarray, threshold: float = 0) -> np.ndarray:
    """Return ``mask > threshold`` as a boolean array (the toolkit uses threshold 0).

    Args:
        mask: Any numeric or boolean array.
        threshold: Values strictly above it count as foreground.

    Returns:
        A boolean array of the same shape.
    """
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    return mask > threshold


def prepare_prediction(
    prediction: np.ndarray, shape: tuple[int, int], threshold: float = 0
) -> np.ndarray:
    """Prepare a prediction as the toolkit does: ``> threshold`` as uint8 0/1, INTER_AREA resize, channel 0.

    Args:
        prediction: ``H x W`` or ``H x W x C`` array (bool, uint8, anything numeric). For a colour
            array, channel 0 is used, as OpenCV's BGR order makes it for the toolkit.
        shape: ``(height, width)`` of the ground truth.
        threshold: Values strictly above it count as foreground.

    Returns:
        ``height x width`` uint8 array of 0 and 1.
    """
    binary = binarize(prediction, threshold).astype(np.uint8)
    if binary.ndim == 3:
        # Resizing is per channel, so taking channel 0 first gives the toolkit's pixels.
        binary = np.ascontiguousarray(binary[:, :, 0])
    if binary.ndim != 2:
        raise ValueError(f"a prediction must be H x W or H x W x C, got shape {binary.shape}")
    height, width = int(shape[0]), int(shape[1])
    if binary.shape != (height, width):
        import cv2

        binary = cv2.resize(binary, (width, height), interpolation=cv2.INTER_AREA)
    return binary


def confusion_counts(truth: np.ndarray, prediction: np.ndarray) -> ConfusionCounts:
    """Count true/false positives/negatives of two binary masks of the same shape.

    Args:
        truth: Boolean mask, or 0/1 integers.
        prediction: Boolean mask, or 0/1 integers.

    Returns:
        The counts, as the toolkit's ``get_confusion_matrix_elements`` gives them.
    """
    truth_bits = _as_bits(truth, "truth")
    pred_bits = _as_bits(prediction, "prediction")
    if truth_bits.shape != pred_bits.shape:
        raise ValueError(
            f"truth {truth_bits.shape} and prediction {pred_bits.shape} differ in shape"
        )
    tp = int(np.count_nonzero(truth_bits & pred_bits))
    n_truth = int(np.count_nonzero(truth_bits))
    n_pred = int(np.count_nonzero(pred_bits))
    fn = n_truth - tp
    fp = n_pred - tp
    tn = truth_bits.size - tp - fn - fp
    return ConfusionCounts(tn=tn, fp=fp, fn=fn, tp=tp)


def jaccard(counts: ConfusionCounts) -> float:
    """Smoothed intersection over union: ``(TP + e) / (TP + FP + FN + e)``."""
    return (counts.tp + SMOOTH) / (
        (counts.tp + counts.fn) + (counts.tp + counts.fp) - counts.tp + SMOOTH
    )


def dice(counts: ConfusionCounts) -> float:
    """Smoothed Dice: ``(2 TP + e) / (|truth| + |prediction| + e)``."""
    return (2 * counts.tp + SMOOTH) / ((counts.tp + counts.fn) + (counts.tp + counts.fp) + SMOOTH)


def mask_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks of the same shape: the one numpy Dice of endobench.

    The toolkit's smoothed Dice (:func:`dice`) of the masks' counts, so two empty masks score 1.

    Args:
        pred: ``H x W`` boolean (or 0/1) prediction.
        truth: ``H x W`` boolean (or 0/1) ground truth.

    Returns:
        ``(2 TP + e) / (|truth| + |prediction| + e)`` with ``e = 1e-15``.
    """
    return dice(confusion_counts(truth, pred))


def precision(counts: ConfusionCounts) -> float:
    """Smoothed precision (PPV): ``(TP + e) / (|prediction| + e)``; 1 for an empty prediction."""
    return (counts.tp + SMOOTH) / ((counts.tp + counts.fp) + SMOOTH)


def recall(counts: ConfusionCounts) -> float:
    """Smoothed recall: ``(TP + e) / (|truth| + e)``; 1 for an empty truth."""
    return (counts.tp + SMOOTH) / ((counts.tp + counts.fn) + SMOOTH)


def f2(counts: ConfusionCounts) -> float:
    """The toolkit's F2 from the smoothed precision and recall: ``5 P R / (4 P + R + e)``."""
    p = precision(counts)
    r = recall(counts)
    return (1 + F_BETA**2.0) * (p * r) / float(F_BETA**2 * p + r + SMOOTH)


def accuracy(counts: ConfusionCounts) -> float:
    """Pixel accuracy ``(TP + TN) / N``."""
    return float(counts.tp + counts.tn) / float(counts.total)


def score_masks(truth: np.ndarray, prediction: np.ndarray) -> ImageScores:
    """Score one prepared pair: two binary masks of the same shape.

    Args:
        truth: ``H x W`` boolean (or 0/1) ground truth.
        prediction: ``H x W`` boolean (or 0/1) prediction, already at the truth's size.

    Returns:
        The seven toolkit scores.
    """
    counts = confusion_counts(truth, prediction)
    return ImageScores(
        jaccard=jaccard(counts),
        dice=dice(counts),
        f2=f2(counts),
        ppv=precision(counts),
        recall=recall(counts),
        accuracy=accuracy(counts),
        hausdorff=row_hausdorff(truth, prediction),
    )


def score_pair(truth: np.ndarray, prediction: np.ndarray, threshold: float = 0) -> ImageScores:
    """Prepare a raw prediction as the toolkit does and score it against a ground truth.

    Args:
        truth: ``H x W`` boolean ground truth (already binarised, e.g. ``image > 0``).
        prediction: The prediction as stored (any size, 1 or more channels, bool or numbers).
        threshold: Prediction values strictly above it count as foreground (the toolkit: 0).

    Returns:
        The seven toolkit scores.
    """
    truth_bits = _as_bits(truth, "truth")
    return score_masks(truth_bits, prepare_prediction(prediction, truth_bits.shape, threshold))


def _as_bits(mask: np.ndarray, what: str) -> np.ndarray:
    """Return a 2-D boolean view of a boolean or 0/1 mask; reject anything else."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"the {what} must be a 2-D mask, got shape {mask.shape}")
    if mask.dtype == bool:
        return mask
    if mask.size and (mask.min() < 0 or mask.max() > 1):
        raise ValueError(f"the {what} must hold only 0 and 1; binarise it first")
    return mask != 0
