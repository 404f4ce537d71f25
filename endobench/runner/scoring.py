"""Scores of a run's sets, computed from the files as written (what the challenge's scorer sees).

The EndoCV numbers read the written ``<name>_mask.jpg`` and the truth file exactly as ``endobench
score`` does (channel 0, ``> 0``). The standard metrics go through the same function as ``endobench
score --standard`` (:meth:`endobench.metrics.standard.StandardMetrics.update_from_files`: truth and
prediction pixels above 127 are polyp). So both sets of numbers equal ``endobench score --standard
--gt <truth> --pred <set>_pred`` on the same files, except that with ``--save-prob`` the standard
metrics read the 8-bit probability maps instead of the masks (recorded as ``prediction_source``).
Writing the results is the run folder's job (:meth:`endobench.writers.run_folder.RunFolder.write_scores`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from endobench.data.readers import read_mask_channel
from endobench.metrics.detection import DetectionAccumulator, frame_positive
from endobench.metrics.endocv import binarize, score_pair
from endobench.metrics.endocv_summary import EndoCVAccumulator
from endobench.metrics.standard import StandardMetrics, file_values
from endobench.writers.masks import mask_path, prob_path, read_prob


@dataclass
class SetScores:
    """One set's scores.

    Attributes:
        summary: The EndoCV2021 toolkit JSON.
        rows: Per-image rows (the toolkit's CSV columns).
        standard: The standard metrics, with the prediction source and truth rule they used.
        detection: The frame-level detection figures (:mod:`endobench.metrics.detection`).
        frames: The frames behind ``detection`` (to pool them over the run's sets).
    """

    summary: dict[str, Any]
    rows: list[Any]
    standard: dict[str, Any]
    detection: dict[str, Any] | None = None
    frames: DetectionAccumulator | None = None


@dataclass
class ImageResult:
    """What one image adds to its set's scores (computed apart, added in the set's order).

    Attributes:
        endocv: The toolkit's scores (None for a frame of ``--positives``, which has no truth).
        truth_positive: The truth has a polyp pixel.
        pred_positive: The written mask has a pixel ``> 0``.
        standard: The standard metrics' per-image values (:func:`metrics.standard.file_values`).
    """

    endocv: Any
    truth_positive: bool
    pred_positive: bool
    standard: dict[str, Any] | None


def score_image(
    run_dir: str | Path,
    set_name: str,
    entry: Mapping[str, Any],
    use_prob: bool,
    truth: bool = True,
) -> ImageResult:
    """Score one image of a run from its written files (any process; reads only files).

    Args:
        run_dir: The run folder.
        set_name: The set.
        entry: The image's manifest entry (``name``, ``mask`` or None, ``height``, ``width``).
        use_prob: Use the probability map for the standard metrics.
        truth: False for a frame of ``--positives`` (a polyp frame without a mask): detection only.
    """
    raw_pred = read_mask_channel(mask_path(run_dir, set_name, entry["name"]))
    if not truth:
        return ImageResult(None, True, frame_positive(raw_pred), None)
    raw_truth = _truth_channel(entry)
    endocv = score_pair(binarize(raw_truth, 0), raw_pred, 0)
    positive = (frame_positive(raw_truth), frame_positive(raw_pred))
    if use_prob:
        prob = read_prob(prob_path(run_dir, set_name, entry["name"]))
        raw_pred = np.rint(prob * 255).astype(np.uint8)  # the PNG's own 8-bit values
    standard = file_values(entry["name"], raw_truth, raw_pred, probability=use_prob)
    return ImageResult(endocv, *positive, standard)


#: ``(set, entry) -> ImageResult``: where a set's per-image results come from (a ScorePool's).
ImageResults = Callable[[str, Mapping[str, Any]], ImageResult]


def score_set(
    run_dir: str | Path,
    set_name: str,
    entries: Sequence[Mapping[str, Any]],
    use_prob: bool,
    progress: Callable[[int], Any] | None = None,
    frame_scores: Mapping[str, float | None] | None = None,
    results: ImageResults | None = None,
) -> SetScores:
    """Score one set of a run from its written files.

    A frame is called polyp when its written mask has a pixel ``> 0`` (the EndoCV reading), and is
    one when its truth has; ``frame_scores`` (the maximum probability of each frame, recorded
    while inferring) rank the frames for the AUROC.

    Args:
        run_dir: The run folder.
        set_name: The set.
        entries: The set's manifest entries (``name``, ``mask`` file or None for a negative frame,
            ``height``, ``width``).
        use_prob: Use the probability maps for the standard metrics.
        progress: Called with 1 after each image.
        frame_scores: Each frame's detection score by name (None where unknown).
        results: Where the per-image results come from (a :class:`ScorePool`'s, computed while
            inferring); None computes each here. Added in ``entries``' order either way, so the
            scores are the same to the byte.

    Returns:
        The set's scores.
    """
    frame_scores = frame_scores or {}
    detection = DetectionAccumulator()
    accumulator = EndoCVAccumulator()
    standard = StandardMetrics()
    for entry in entries:
        if results is None:
            image = score_image(run_dir, set_name, entry, use_prob)
        else:
            image = results(set_name, entry)
        accumulator.update(entry["name"], image.endocv)
        detection.update(image.truth_positive, image.pred_positive, frame_scores.get(entry["name"]))
        standard.add(entry["name"], image.standard)
        if progress is not None:
            progress(1)
    standard_values = standard.compute()
    standard_values["prediction_source"] = (
        "probability maps (8-bit)" if use_prob else "binary masks as written"
    )
    standard_values["truth_rule"] = "> 127"
    standard_values["prediction_rule"] = "> 127"
    return SetScores(
        accumulator.compute(), accumulator.rows(), standard_values, detection.compute(), detection
    )


def detect_positive_frames(
    run_dir: str | Path,
    set_name: str,
    entries: Sequence[Mapping[str, Any]],
    frame_scores: Mapping[str, float | None],
    progress: Callable[[int], Any] | None = None,
    results: ImageResults | None = None,
) -> DetectionAccumulator:
    """Return the frames of a set of polyp frames without masks (``--positives``).

    Every frame shows a polyp, so only the sensitivity is defined (``.compute()``): the share of
    frames whose written mask has a pixel ``> 0``.
    """
    detection = DetectionAccumulator()
    for entry in entries:
        if results is None:
            image = score_image(run_dir, set_name, entry, False, truth=False)
        else:
            image = results(set_name, entry)
        detection.update(True, image.pred_positive, frame_scores.get(entry["name"]))
        if progress is not None:
            progress(1)
    return detection


def _truth_channel(entry: Mapping[str, Any]) -> np.ndarray:
    if entry.get("mask"):
        return read_mask_channel(entry["mask"])
    return np.zeros((int(entry["height"]), int(entry["width"])), dtype=np.uint8)
