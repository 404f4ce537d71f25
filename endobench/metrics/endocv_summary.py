"""Set-level EndoCV2021 scores: the toolkit's JSON, the per-image CSV and the generalisation score.

``summarize`` is the pure ``compute`` step over per-image scores; :class:`EndoCVAccumulator` is the
thin stateful wrapper that collects them (the torchmetrics ``update``/``compute`` pattern). The
numbers are those of ``compute_seg.py``: each metric's mean over the images, the population standard
deviations, and the Hausdorff distance normalised over the set as ``mean(HD) / max(HD)``. When every
image has HD 0, that ratio is ``0 / 0``: the toolkit writes NaN, and so does endobench (with a
warning), so that the two JSON files stay comparable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from endobench.errors import ScoringError
from endobench.io import write_json_atomic, write_text_atomic
from endobench.metrics.endocv import CSV_COLUMNS, ImageScores

#: The toolkit's top-level key and its keys, in the toolkit's order.
SEG_KEY = "EndoCV2021_seg"
SUMMARY_KEYS = (
    "dice",
    "jaccard",
    "typeIIerror",
    "PPV",
    "recall",
    "OverallAcc",
    "hausdorff_distance",
    "hausdorff_distance_nonNorm",
    "dice_std",
    "jc_std",
    "f2_std",
    "ppv_std",
    "r_std",
    "acc_std",
    "hdf_std",
    "hdf_std_noNorm",
)
GEN_KEY = "EndoCV2021_seg_gen"
#: The generalisation score's tolerance, in percent of the seen-data value.
GEN_TOLERANCE_PERCENT = 10


class ScoringWarning(UserWarning):
    """Something the scorer did that a user should know about (pairing, empty predictions, NaN)."""


def summarize(scores: Sequence[ImageScores]) -> dict:
    """Return the toolkit's JSON summary of a set of per-image scores.

    Args:
        scores: Per-image scores, at least one.

    Returns:
        ``{"EndoCV2021_seg": {"dice": {"value": float}, ...}}`` with the toolkit's sixteen keys in
        its order. ``hausdorff_distance`` and ``hdf_std`` are NaN when every HD is 0.

    Raises:
        ScoringError: If ``scores`` is empty.
    """
    if len(scores) == 0:
        raise ScoringError("no image was scored: check that --pred holds predictions for --gt")
    # Column vectors of shape (N, 1) and a plain list for HD, as the toolkit builds them: numpy's
    # pairwise summation depends on the layout, and these are the toolkit's exact float operations.
    column = {
        name: np.array([[getattr(s, name)] for s in scores], dtype=np.float64)
        for name in ("jaccard", "dice", "f2", "ppv", "recall", "accuracy")
    }
    hd = np.array([s.hausdorff for s in scores], dtype=np.float64)
    hd_max = hd.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        hd_normalised = hd / hd_max
        hd_mean_normalised = np.mean(hd) / hd_max
    if hd_max == 0:
        warnings.warn(
            "every image has Hausdorff distance 0, so the normalised distance mean(HD)/max(HD) is "
            "0/0: written as NaN, as the official toolkit does",
            ScoringWarning,
            stacklevel=2,
        )
    values = {
        "dice": column["dice"].mean(axis=0)[0],
        "jaccard": column["jaccard"].mean(axis=0)[0],
        "typeIIerror": column["f2"].mean(axis=0)[0],
        "PPV": column["ppv"].mean(axis=0)[0],
        "recall": column["recall"].mean(axis=0)[0],
        "OverallAcc": np.mean(column["accuracy"]),
        "hausdorff_distance": hd_mean_normalised,
        "hausdorff_distance_nonNorm": np.mean(hd),
        "dice_std": np.std(column["dice"]),
        "jc_std": np.std(column["jaccard"]),
        "f2_std": np.std(column["f2"]),
        "ppv_std": np.std(column["ppv"]),
        "r_std": np.std(column["recall"]),
        "acc_std": np.std(column["accuracy"]),
        "hdf_std": np.std(hd_normalised),
        "hdf_std_noNorm": np.std(hd),
    }
    return {SEG_KEY: {key: {"value": float(values[key])} for key in SUMMARY_KEYS}}


class EndoCVAccumulator:
    """Collects named per-image scores and computes the toolkit's summary over them."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.scores: list[ImageScores] = []

    def update(self, name: str, scores: ImageScores) -> None:
        """Add one image's scores."""
        self.names.append(name)
        self.scores.append(scores)

    def compute(self) -> dict:
        """Return the toolkit's JSON summary of every image added so far."""
        return summarize(self.scores)

    def rows(self) -> list[tuple[str, ImageScores]]:
        """Return ``(name, scores)`` per image, in the order they were added."""
        return list(zip(self.names, self.scores, strict=True))

    def __len__(self) -> int:
        return len(self.scores)


def summary_values(summary: dict) -> dict[str, float]:
    """Flatten a toolkit JSON summary into ``{key: value}``.

    Raises:
        ScoringError: If the summary lacks the toolkit's layout.
    """
    try:
        seg = summary[SEG_KEY]
        return {key: float(seg[key]["value"]) for key in SUMMARY_KEYS}
    except (KeyError, TypeError, ValueError) as err:
        raise ScoringError(
            f"not an EndoCV2021 segmentation summary (missing {err}): expected "
            f'{{"{SEG_KEY}": {{"dice": {{"value": ...}}, ...}}}} as `endobench score --json` writes'
        ) from None


def load_summary(path: str | os.PathLike) -> dict:
    """Read a toolkit JSON summary written by endobench or by the official ``compute_seg.py``.

    Raises:
        ScoringError: If the file is missing, not JSON, or not in the toolkit's layout.
    """
    path = Path(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScoringError(
            f"{path}: no such summary file; write one with `endobench score --json`"
        ) from None
    except (OSError, ValueError) as err:
        raise ScoringError(
            f"{path}: cannot read it as JSON ({err}); pass a file from `endobench score --json`"
        ) from None
    try:
        summary_values(summary)
    except ScoringError as err:
        raise ScoringError(f"{path}: {err}") from None
    return summary


def generalisation_score(
    seen: dict, unseen: dict, tolerance_percent: float = GEN_TOLERANCE_PERCENT
) -> dict:
    """Return the generalisation score of ``compute_seg_gen.py`` from two toolkit summaries.

    For Dice, recall, PPV and ``1 - hausdorff_distance`` of the seen data (``p``) and the unseen
    data (``g``): the deviation is 0 when ``g`` lies within ``p`` +/- ``tolerance_percent`` % of
    ``p``, else ``|p - tol * p - g|`` (the distance to the LOWER bound, even above the upper bound,
    as the toolkit computes it). ``score_seg_g`` is the mean deviation and ``seg_g_score`` the mean
    of the four unseen values.

    Args:
        seen: Summary of the seen-data test set (the toolkit's ``--segmentationMetric_test1``).
        unseen: Summary of the unseen-data test set (``--segmentationMetric_test2``).
        tolerance_percent: The tolerance (the toolkit: 10).

    Returns:
        ``{"EndoCV2021_seg_gen": {"seg_g_score": {"value": ...}, "score_seg_g": {"value": ...}}}``.
    """
    p_values = _generalisation_measures(seen)
    g_values = _generalisation_measures(unseen)
    deviations = [
        _deviation(p, g, tolerance_percent) for p, g in zip(p_values, g_values, strict=True)
    ]
    return {
        GEN_KEY: {
            "seg_g_score": {"value": float(np.mean(g_values))},
            "score_seg_g": {"value": float(np.mean(deviations))},
        }
    }


def _generalisation_measures(summary: dict) -> list[float]:
    values = summary_values(summary)
    return [values["dice"], values["recall"], values["PPV"], 1 - values["hausdorff_distance"]]


def _deviation(seen: float, unseen: float, tolerance_percent: float) -> float:
    upper = seen + tolerance_percent * 0.01 * seen
    lower = seen - tolerance_percent * 0.01 * seen
    if lower <= unseen <= upper:
        return 0.0
    return abs(lower - unseen)


def per_image_csv(rows: Iterable[tuple[str, ImageScores]]) -> str:
    """Return the per-image table as CSV text, columns ``image,jaccard,...,hausdorff``.

    Floats are written with Python's shortest round-trip repr, so reading them back is exact.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, scores in rows:
        writer.writerow([name, *(repr(float(v)) for v in scores.as_tuple())])
    return buffer.getvalue()


def write_summary_json(path: str | os.PathLike, summary: dict, overwrite: bool = False) -> Path:
    """Write a toolkit JSON summary atomically (NaN is written as the toolkit's ``NaN`` token).

    Raises:
        ScoringError: If ``path`` exists and ``overwrite`` is false.
    """
    _refuse_overwrite(path, overwrite)
    return write_json_atomic(path, summary)


def write_per_image_csv(
    path: str | os.PathLike, rows: Iterable[tuple[str, ImageScores]], overwrite: bool = False
) -> Path:
    """Write the per-image CSV atomically.

    Raises:
        ScoringError: If ``path`` exists and ``overwrite`` is false.
    """
    _refuse_overwrite(path, overwrite)
    return write_text_atomic(path, per_image_csv(rows))


def has_nan(summary: dict) -> bool:
    """Whether any value of a toolkit summary is NaN (all-zero Hausdorff distances)."""
    return any(math.isnan(v) for v in summary_values(summary).values())


def _refuse_overwrite(path: str | os.PathLike, overwrite: bool) -> None:
    if Path(path).exists() and not overwrite:
        raise ScoringError(
            f"{path} already exists: choose another file or replace it with --overwrite"
        )
