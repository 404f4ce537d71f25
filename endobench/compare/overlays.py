"""Overlays of predictions on images: true positive, false positive and false negative pixels apart.

Shared by the qualitative grid (:mod:`endobench.compare.plots`) and the HTML report. Colours are
told apart by people with the common colour-vision deficiencies as well as by hue: TP green, FP
magenta, FN blue (the truth alone is drawn yellow).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

TP_COLOUR = np.array([0, 200, 0], dtype=np.float32)
FP_COLOUR = np.array([230, 0, 200], dtype=np.float32)
FN_COLOUR = np.array([30, 90, 255], dtype=np.float32)
TRUTH_COLOUR = np.array([255, 220, 0], dtype=np.float32)
LEGEND = (
    ("true positive", TP_COLOUR),
    ("false positive", FP_COLOUR),
    ("false negative", FN_COLOUR),
)


def blend(
    image: np.ndarray, mask: np.ndarray, colour: np.ndarray, alpha: float = 0.5
) -> np.ndarray:
    """Return ``image`` (HxWx3 uint8) with ``mask`` blended in ``colour``."""
    out = image.astype(np.float32).copy()
    out[mask] = (1 - alpha) * out[mask] + alpha * colour
    return out.astype(np.uint8)


def error_overlay(
    image: np.ndarray, truth: np.ndarray, pred: np.ndarray, alpha: float = 0.5
) -> np.ndarray:
    """Return the image with TP, FP and FN pixels of ``pred`` against ``truth`` in their colours."""
    out = blend(image, truth & pred, TP_COLOUR, alpha)
    out = blend(out, pred & ~truth, FP_COLOUR, alpha)
    return blend(out, truth & ~pred, FN_COLOUR, alpha)


def thumbnail(pixels: np.ndarray, height: int) -> np.ndarray:
    """Resize to ``height`` pixels, keeping the aspect ratio (area for shrinking)."""
    import cv2

    scale = height / pixels.shape[0]
    width = max(1, round(pixels.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
    return cv2.resize(pixels, (width, height), interpolation=interpolation)


def _resized_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == shape:
        return mask
    import cv2

    return (
        cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    )


def load_triplet(
    entry: Mapping[str, Any], pred_file: Path | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a manifest entry's image, its truth (all background without one) and a prediction.

    Returns:
        ``(image HxWx3 uint8, truth HxW bool, prediction HxW bool or None when the file is absent)``.

    Raises:
        EndobenchError: The image or a mask cannot be read.
    """
    from endobench.data import read_image, read_mask
    from endobench.writers.masks import read_prediction

    image = read_image(entry["file"])
    shape = image.shape[:2]
    truth = read_mask(entry["mask"]) if entry.get("mask") else np.zeros(shape, bool)
    truth = _resized_mask(np.asarray(truth, bool), shape)
    pred = None
    if pred_file is not None and Path(pred_file).is_file():
        pred = _resized_mask(read_prediction(pred_file), shape)
    return image, truth, pred
