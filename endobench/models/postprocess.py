"""The post-processing of Yu, Yan & Li (EndoCV2021, §2.3), and its calibration.

A probability map is a *polyp case* when its share of confident ("white") pixels -- pixels with
probability above ``confidence`` -- exceeds ``reference_area``, the smallest polyp of the training
ground truth as a fraction of the image area (a fraction, so it carries across resolutions). A polyp
case is polarised: mask = probability > ``polarise``. Any other map is a *pending case* and becomes
all background.

Torch-free: works on numpy arrays so that runners and training can call it anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from endobench.errors import ConfigError
from endobench.metrics.endocv import mask_dice

#: Defaults: the smallest polyp in Kvasir-SEG + CVC-ClinicDB covers 0.34 % of its image (rounded
#: down to 0.3 %); the two thresholds start at 0.5 until ``calibrate`` chooses them.
DEFAULT_POSTPROCESS = {"reference_area": 0.003, "confidence": 0.5, "polarise": 0.5}
DEFAULT_GRID = {
    "confidence": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "polarise": (0.3, 0.4, 0.5, 0.6, 0.7),
}


def check_params(params: dict) -> dict:
    """Validate post-processing parameters and return them as plain floats.

    Raises:
        ConfigError: A parameter is missing or outside [0, 1).
    """
    out = {}
    for key in ("reference_area", "confidence", "polarise"):
        if key not in params:
            raise ConfigError(
                f"post-processing parameters lack {key!r}; give all of {list(DEFAULT_POSTPROCESS)}"
            )
        value = float(params[key])
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"post-processing {key}={value} is outside [0, 1)")
        out[key] = value
    return out


def is_polyp_case(prob: np.ndarray, reference_area: float, confidence: float) -> bool:
    """Return True when the share of pixels with probability > ``confidence`` exceeds the area."""
    return float(np.count_nonzero(prob > confidence)) / prob.size > reference_area


def postprocess(
    prob: np.ndarray,
    reference_area: float = DEFAULT_POSTPROCESS["reference_area"],
    confidence: float = DEFAULT_POSTPROCESS["confidence"],
    polarise: float = DEFAULT_POSTPROCESS["polarise"],
) -> np.ndarray:
    """Turn a probability map into a mask: polarise a polyp case, clear a pending case.

    Args:
        prob: H x W probabilities in [0, 1].
        reference_area: Smallest polyp as a fraction of the image area.
        confidence: Pixels above it count as white when deciding the case.
        polarise: Threshold that binarises a polyp case.

    Returns:
        H x W bool mask.
    """
    prob = np.asarray(prob)
    if not is_polyp_case(prob, reference_area, confidence):
        return np.zeros(prob.shape, dtype=bool)
    return prob > polarise


def reference_area_from_masks(masks: Iterable[np.ndarray]) -> float:
    """Return the smallest polyp of a set of ground-truth masks as a fraction of its image area.

    Masks without any polyp (negative frames) are skipped.

    Raises:
        ConfigError: No mask holds a polyp.
    """
    smallest = None
    for mask in masks:
        mask = np.asarray(mask, dtype=bool)
        area = np.count_nonzero(mask)
        if area:
            fraction = area / mask.size
            smallest = fraction if smallest is None else min(smallest, fraction)
    if smallest is None:
        raise ConfigError("no ground-truth mask holds a polyp; cannot compute the reference area")
    return float(smallest)


def calibrate(
    prob_maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    train_masks: Iterable[np.ndarray] | None = None,
    grid: dict[str, Sequence[float]] | None = None,
    reference_area: float | None = None,
) -> dict:
    """Choose the post-processing parameters that maximise mean Dice on validation data.

    The reference area comes from the training masks (or is given); ``confidence`` and ``polarise``
    are searched on a grid. Dice of an empty prediction on an empty mask counts as 1.

    Args:
        prob_maps: Validation probability maps (H x W each, any sizes).
        masks: Their ground-truth masks (same sizes).
        train_masks: Training masks giving the reference area (unless ``reference_area`` is given).
        grid: ``{"confidence": [...], "polarise": [...]}``; default :data:`DEFAULT_GRID`.
        reference_area: Use this reference area instead of computing it.

    Returns:
        ``{"reference_area", "confidence", "polarise", "dice", "dice_without"}``: the parameters,
        the mean Dice they reach, and the mean Dice of a plain ``> 0.5`` threshold.

    Raises:
        ConfigError: Empty or mismatched inputs.
    """
    if len(prob_maps) == 0 or len(prob_maps) != len(masks):
        raise ConfigError(
            f"calibration needs as many probability maps as masks (got {len(prob_maps)} and {len(masks)})"
        )
    if reference_area is None:
        if train_masks is None:
            raise ConfigError("calibration needs train_masks or an explicit reference_area")
        reference_area = reference_area_from_masks(train_masks)
    grid = grid or DEFAULT_GRID
    confidences = [float(c) for c in grid["confidence"]]
    polarises = [float(p) for p in grid["polarise"]]

    gts = [np.asarray(m, dtype=bool) for m in masks]
    probs = [np.asarray(p, dtype=np.float32) for p in prob_maps]
    for prob, gt in zip(probs, gts, strict=True):
        if prob.shape != gt.shape:
            raise ConfigError(f"probability map {prob.shape} and mask {gt.shape} differ in size")
    # Per image: is it a polyp case at each confidence; its Dice at each polarise or when cleared.
    polyp = np.array([[is_polyp_case(p, reference_area, c) for c in confidences] for p in probs])
    dice_pol = np.array(
        [[mask_dice(p > t, g) for t in polarises] for p, g in zip(probs, gts, strict=True)]
    )
    dice_clear = np.array([mask_dice(np.zeros_like(g), g) for g in gts])

    scores = np.where(polyp[:, :, None], dice_pol[:, None, :], dice_clear[:, None, None]).mean(0)
    ci, pi = np.unravel_index(int(np.argmax(scores)), scores.shape)
    plain = float(np.mean([mask_dice(p > 0.5, g) for p, g in zip(probs, gts, strict=True)]))
    return {
        "reference_area": float(reference_area),
        "confidence": confidences[ci],
        "polarise": polarises[pi],
        "dice": float(scores[ci, pi]),
        "dice_without": plain,
    }
