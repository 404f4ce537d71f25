"""Frame-level detection figures: does the model call a frame polyp or polyp-free?

The clinical view of a polyp segmenter is a detector: on a polyp-free (negative) frame any
predicted region is a false alarm, on a polyp frame any region is a hit. These figures sit next to
the EndoCV2021 scores, under the key ``"detection"`` of ``scores/<set>.json``; they never change
the toolkit's numbers (where an empty truth and an empty prediction score Dice 1).

Rules:

- A frame is **predicted positive** when its written mask has any foreground pixel, read as the
  EndoCV scorer reads it (channel 0 ``> 0``; an all-background mask written as JPEG reads back as
  all zeros, so this is exactly "the model's mask is not empty").
- A frame is **truly positive** when its truth mask has any foreground pixel (``> 0``, as the EndoCV
  scorer reads truths), or when it belongs to a set declared all-positive (image-only polyp frames,
  ``--positives``); a negative frame (``--negatives``, PolypGen ``negativeOnly``) is truly negative.
- The **per-frame score** ranked by the AUROC is the maximum of the frame's probability map
  (``"max_probability"``): the most confident pixel, the score a detector built on this segmenter
  would threshold. It is read from the maps the run already produces (no extra model pass), before
  any post-processing of the mask (a ``_post`` model's AUROC is its network's). Where
  only masks exist (``endobench score`` on predictions from elsewhere) the score is the mask's
  foreground fraction (``"foreground_fraction"``), a coarser ranking (every empty mask ties at 0);
  the ``frame_score`` key names the rule used, and AUROCs of different rules are not comparable.

Figures (``None`` where undefined):

- ``fp_frame_rate``: negative frames predicted positive / negative frames;
- ``specificity``: negative frames predicted negative / negative frames (``1 - fp_frame_rate``);
- ``sensitivity``: positive frames predicted positive / positive frames;
- ``auroc``: area under the ROC curve of the per-frame score over all frames, as
  :func:`sklearn.metrics.roc_auc_score` computes it (needs both kinds of frame and a score for
  every frame).

No torch here: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

#: The key of the figures in ``scores/<set>.json``.
DETECTION_KEY = "detection"
#: The per-frame score rules.
MAX_PROBABILITY = "max_probability"
FOREGROUND_FRACTION = "foreground_fraction"
#: The keys of the figures, in order.
DETECTION_KEYS = (
    "n_positive_frames",
    "n_negative_frames",
    "fp_frame_rate",
    "sensitivity",
    "specificity",
    "auroc",
    "frame_score",
)


def frame_positive(mask: np.ndarray) -> bool:
    """Whether a mask calls its frame positive: any pixel ``> 0`` (bool or 8-bit masks)."""
    return bool(np.any(np.asarray(mask) > 0))


def max_probability(probability: np.ndarray) -> float:
    """The per-frame score of a probability map: its maximum (0 for an empty map)."""
    values = np.asarray(probability)
    return float(values.max()) if values.size else 0.0


def foreground_fraction(mask: np.ndarray) -> float:
    """The fallback per-frame score of a mask without probabilities: its share of pixels ``> 0``."""
    values = np.asarray(mask)
    return float(np.count_nonzero(values > 0) / values.size) if values.size else 0.0


@dataclass(frozen=True)
class FrameCounts:
    """The four frame counts of a detector: true/false positives and negatives."""

    tp: int
    fn: int
    fp: int
    tn: int

    @property
    def positives(self) -> int:
        """Truly positive frames."""
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        """Truly negative frames."""
        return self.fp + self.tn


def frame_counts(truth: Sequence[bool], predicted: Sequence[bool]) -> FrameCounts:
    """Count frames by truth and call.

    Args:
        truth: Per frame, whether it truly holds a polyp.
        predicted: Per frame, whether the model called it positive.

    Raises:
        ValueError: The two sequences differ in length.
    """
    truth_array, predicted_array = _bools(truth), _bools(predicted)
    if truth_array.shape != predicted_array.shape:
        raise ValueError(f"{truth_array.size} truths but {predicted_array.size} predictions")
    return FrameCounts(
        tp=int(np.count_nonzero(truth_array & predicted_array)),
        fn=int(np.count_nonzero(truth_array & ~predicted_array)),
        fp=int(np.count_nonzero(~truth_array & predicted_array)),
        tn=int(np.count_nonzero(~truth_array & ~predicted_array)),
    )


def fp_frame_rate(truth: Sequence[bool], predicted: Sequence[bool]) -> float | None:
    """Share of the negative frames called positive; None without negative frames."""
    counts = frame_counts(truth, predicted)
    return counts.fp / counts.negatives if counts.negatives else None


def specificity(truth: Sequence[bool], predicted: Sequence[bool]) -> float | None:
    """Share of the negative frames called negative; None without negative frames."""
    counts = frame_counts(truth, predicted)
    return counts.tn / counts.negatives if counts.negatives else None


def sensitivity(truth: Sequence[bool], predicted: Sequence[bool]) -> float | None:
    """Share of the positive frames called positive; None without positive frames."""
    counts = frame_counts(truth, predicted)
    return counts.tp / counts.positives if counts.positives else None


def auroc(truth: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve of per-frame scores, as ``sklearn.metrics.roc_auc_score``.

    The curve has one point per distinct score (frames sorted by descending score, ties
    together), collinear points are dropped, it starts at (0, 0), and its area is the trapezoidal
    sum: the arithmetic of scikit-learn's ``roc_curve`` and ``auc``, so the two agree exactly.

    Returns:
        The area, or None when all frames are of one kind (the AUROC is undefined there).

    Raises:
        ValueError: Lengths differ, or a score is not finite.
    """
    truth_array = _bools(truth)
    score_array = np.asarray(scores, dtype=np.float64).reshape(-1)
    if truth_array.shape != score_array.shape:
        raise ValueError(f"{truth_array.size} truths but {score_array.size} scores")
    if not np.all(np.isfinite(score_array)):
        raise ValueError("per-frame scores must be finite")
    if truth_array.all() or not truth_array.any():
        return None
    order = np.argsort(score_array, kind="stable")[::-1]
    sorted_scores, sorted_truth = score_array[order], truth_array[order].astype(np.float64)
    ends = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_truth.size - 1]
    true_pos = np.cumsum(sorted_truth)[ends]
    false_pos = 1 + ends - true_pos
    if true_pos.size > 2:
        corners = np.logical_or(np.diff(false_pos, 2), np.diff(true_pos, 2))
        keep = np.flatnonzero(np.r_[True, corners, True])
        true_pos, false_pos = true_pos[keep], false_pos[keep]
    tpr = np.r_[0.0, true_pos] / true_pos[-1]
    fpr = np.r_[0.0, false_pos] / false_pos[-1]
    return float(np.add.reduce(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def detection_figures(
    truth: Sequence[bool],
    predicted: Sequence[bool],
    scores: Sequence[float | None] | None = None,
    frame_score: str = MAX_PROBABILITY,
) -> dict:
    """Return the ``"detection"`` figures of a set of frames.

    Args:
        truth: Per frame, whether it truly holds a polyp.
        predicted: Per frame, whether its written mask has any foreground pixel.
        scores: Per frame, the score for the AUROC (None where unknown); the AUROC is None when
            any frame lacks one.
        frame_score: The name of the score's rule (:data:`MAX_PROBABILITY` or
            :data:`FOREGROUND_FRACTION`).

    Returns:
        ``{"n_positive_frames", "n_negative_frames", "fp_frame_rate", "sensitivity",
        "specificity", "auroc", "frame_score"}``, values None where undefined.
    """
    counts = frame_counts(truth, predicted)
    area = None
    if scores is not None and len(scores) == len(truth) and all(s is not None for s in scores):
        area = auroc(truth, [float(s) for s in scores])
    negatives, positives = counts.negatives, counts.positives
    return {
        "n_positive_frames": positives,
        "n_negative_frames": negatives,
        "fp_frame_rate": counts.fp / negatives if negatives else None,
        "sensitivity": counts.tp / positives if positives else None,
        "specificity": counts.tn / negatives if negatives else None,
        "auroc": area,
        "frame_score": frame_score,
    }


@dataclass
class DetectionAccumulator:
    """Collects frames one by one (``update``) and gives their figures (``compute``).

    Attributes:
        frame_score: The name of the per-frame score rule recorded in the figures.
    """

    frame_score: str = MAX_PROBABILITY
    truth: list[bool] = field(default_factory=list)
    predicted: list[bool] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)

    def update(self, truly_positive: bool, predicted_positive: bool, score: float | None) -> None:
        """Add one frame: its truth, the model's call, and its score (None when unknown)."""
        self.truth.append(bool(truly_positive))
        self.predicted.append(bool(predicted_positive))
        self.scores.append(None if score is None else float(score))

    def extend(self, frames: Iterable[tuple[bool, bool, float | None]]) -> None:
        """Add ``(truly positive, predicted positive, score)`` frames."""
        for frame in frames:
            self.update(*frame)

    def compute(self) -> dict:
        """Return the figures of the frames added so far (see :func:`detection_figures`)."""
        return detection_figures(self.truth, self.predicted, self.scores, self.frame_score)

    def __len__(self) -> int:
        return len(self.truth)


def detection_rows(figures: dict) -> list[tuple[str, str]]:
    """Return ``(label, value)`` rows of the figures for a printed table (``-`` where undefined).

    Rates are percentages with the frame counts they come from (``"72.1 % (300 of 416)"``).
    """

    def rate(value: float | None, total: int) -> str:
        if value is None:
            return "-"
        return f"{100 * value:.1f} % ({round(value * total)} of {total})"

    positives, negatives = figures["n_positive_frames"], figures["n_negative_frames"]
    area = figures["auroc"]
    return [
        ("frames with a polyp / polyp-free", f"{positives} / {negatives}"),
        ("FP frame rate (polyp-free called polyp)", rate(figures["fp_frame_rate"], negatives)),
        ("sensitivity (polyp frames called polyp)", rate(figures["sensitivity"], positives)),
        ("specificity (polyp-free called polyp-free)", rate(figures["specificity"], negatives)),
        (f"AUROC of the {figures['frame_score']}", "-" if area is None else f"{area:.4f}"),
    ]


def _bools(values: Sequence[bool]) -> np.ndarray:
    return np.asarray(values, dtype=bool).reshape(-1)
