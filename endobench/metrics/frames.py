"""Scoring predictions of frames whose truth is known without a mask (``endobench score
--negatives`` / ``--positives``), together with the truth masks of ``--gt`` when given.

- A **negative** frame (every image of a ``--negatives`` folder, read by
  :func:`endobench.data.open_negatives`) is scored against an empty truth of its image's size:
  into the EndoCV2021 numbers exactly as the toolkit would score an all-background truth mask (an
  empty prediction scores Dice 1), and as a negative frame into the detection figures.
- A **positive** frame (every image of a ``--positives`` folder: polyp frames without masks) has
  no EndoCV scores; it counts as a positive frame in the detection figures (sensitivity).
- A ``--gt`` truth counts as positive in the detection figures when it has any foreground pixel.

Predictions pair with frames by image name (``<name>_mask.<ext>`` or ``<name>.<ext>`` in
``--pred``), as for ``--gt``. The per-frame score of the AUROC is the maximum of the frame's
probability map when the caller gives a reader of it (``score --prob DIR`` reads the maps
``endobench run --save-prob`` writes through :func:`endobench.writers.masks.max_probability_reader`;
:data:`endobench.metrics.detection.MAX_PROBABILITY`, the rule of ``run`` up to the maps' 8 bits),
else the mask's foreground fraction
(:data:`endobench.metrics.detection.FOREGROUND_FRACTION`), a coarser ranking; see
:mod:`endobench.metrics.detection`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from endobench.errors import DataError, ScoringError
from endobench.metrics.detection import FOREGROUND_FRACTION, MAX_PROBABILITY
from endobench.metrics.folders import (
    feed,
    list_masks,
    pair_truths_and_predictions,
    score_folders,
    without_prediction,
)
from endobench.metrics.set_scorer import Frame, ScoreResult, SetScorer
from endobench.wording import counted


@dataclass(frozen=True)
class FrameFiles:
    """One frame to score: its name, its kind of truth, and its files."""

    name: str
    kind: str  # "mask", "negative" or "positive"
    truth: Path | None
    image: Path | None
    prediction: Path | None


def score_frames(
    pred_dir: str | os.PathLike,
    *,
    gt_dir: str | os.PathLike | None = None,
    negatives: Sequence[str | os.PathLike] = (),
    positives: Sequence[str | os.PathLike] = (),
    missing: str = "error",
    test_type: str | None = None,
    progress: bool = True,
    standard: bool = False,
    gt_threshold: float = 0,
    pred_threshold: float = 0,
    on_problem: str = "error",
    max_probability: Callable[[str], float] | None = None,
) -> ScoreResult:
    """Score predictions of truth masks, negative frames and positive frames as one set.

    Args:
        pred_dir: Folder of predictions, named after the frames.
        gt_dir: Folder of truth masks, or None.
        negatives: Folders of polyp-free frames (images; any layout :func:`open_negatives` reads).
        positives: Folders of polyp frames without masks (images).
        missing: ``"error"``: a frame without prediction is a problem; ``"empty"``: it is scored
            as an empty prediction (which is right for a negative frame).
        test_type, progress, standard, gt_threshold, pred_threshold, on_problem: As for
            :func:`endobench.metrics.folders.score_folders`.
        max_probability: A frame's maximum probability by its name: the AUROC then ranks frames
            by it; None ranks them by foreground fraction.

    Returns:
        A :class:`ScoreResult` whose ``detection`` holds the frame-level figures; ``summary`` is
        None when no frame has a truth (positives alone).

    Raises:
        ScoringError: A frame name repeats across the inputs, predictions are missing, or
            nothing is left to score.
        DataError: A folder cannot be read as frames, or a file is unreadable.
    """
    frames, notes, skipped = _collect(pred_dir, gt_dir, negatives, positives, missing, on_problem)
    scorer = SetScorer(
        standard=standard,
        frame_score=FOREGROUND_FRACTION if max_probability is None else MAX_PROBABILITY,
        gt_threshold=gt_threshold,
        pred_threshold=pred_threshold,
    )
    result = feed(
        scorer,
        frames,
        lambda files: _read(files, max_probability),
        on_problem=on_problem,
        progress=progress,
        skipped=skipped,
        nothing_left=lambda: (
            f"{pred_dir}: nothing left to score; fix the files ({len(skipped)} skipped)"
        ),
    )
    result.test_type = test_type
    result.warnings[:0] = notes
    return result


def score_predictions(
    pred_dir: str | os.PathLike,
    *,
    gt_dir: str | os.PathLike | None = None,
    negatives: Sequence[str | os.PathLike] = (),
    positives: Sequence[str | os.PathLike] = (),
    max_probability: Callable[[str], float] | None = None,
    **options: Any,
) -> ScoreResult:
    """Score predictions against whatever truth is given (``endobench score``'s one entry).

    Truth masks alone are scored by :func:`endobench.metrics.folders.score_folders`; with
    frames known without a mask, by :func:`score_frames` (``options``: as for those).

    Raises:
        ConfigError: No truth at all, or ``max_probability`` without frames to rank.
    """
    from endobench.errors import ConfigError

    if negatives or positives:
        return score_frames(
            pred_dir,
            gt_dir=gt_dir,
            negatives=negatives,
            positives=positives,
            max_probability=max_probability,
            **options,
        )
    if max_probability is not None:
        raise ConfigError("--prob ranks frames for the AUROC: give --negatives or --positives")
    if gt_dir is None:
        raise ConfigError(
            "nothing to score against: pass --gt, --dataset, --negatives or --positives"
        )
    return score_folders(gt_dir, pred_dir, **options)


def _collect(pred_dir, gt_dir, negatives, positives, missing, on_problem):
    if missing not in ("error", "empty"):
        raise ValueError(f"missing must be 'error' or 'empty', not {missing!r}")
    notes: list[str] = []
    skipped: list[str] = []
    frames: list[FrameFiles] = []
    if gt_dir is not None:
        pairs, notes, skipped = pair_truths_and_predictions(gt_dir, pred_dir, missing, on_problem)
        frames += [FrameFiles(name, "mask", truth, None, pred) for name, truth, pred in pairs]
    predictions, clashes = list_masks(_pred_folder(pred_dir), "prediction", on_problem)
    skipped += clashes
    for kind, folders in (("negative", negatives), ("positive", positives)):
        for folder in folders:
            for name, image in _frames_of(folder, kind):
                frames.append(FrameFiles(name, kind, None, image, predictions.get(name)))
    used = {frame.prediction for frame in frames}
    notes = [note for note in notes if "have no truth and are ignored" not in note]
    unused = sorted(name for name, path in predictions.items() if path not in used)
    if unused:
        notes.append(
            f"{len(unused)} predictions in {pred_dir} match no frame and are ignored "
            f"({', '.join(unused[:5])})"
        )
    names = [frame.name for frame in frames]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ScoringError(
            f"frame names repeat across --gt/--negatives/--positives ({', '.join(repeated[:5])}); "
            "predictions pair by name: score those folders separately"
        )
    absent = [f.name for f in frames if f.prediction is None and f.kind != "mask"]
    refusal = f"{pred_dir}: {counted(len(absent), 'frame')} without a prediction"
    rule = without_prediction(absent, missing, on_problem, f"{refusal} ({', '.join(absent[:5])})")
    if rule == "skip":
        skipped += [f"frame without prediction: {name}" for name in absent]
        frames = [f for f in frames if f.prediction is not None or f.kind == "mask"]
    elif rule == "empty":
        notes.append(f"{counted(len(absent), 'frame')} without a prediction, scored as empty")
    return sorted(frames, key=lambda f: f.name), notes, skipped


def _frames_of(folder: str | os.PathLike, kind: str) -> list[tuple[str, Path]]:
    from endobench.data import open_dataset, open_negatives

    if kind == "negative":
        return [(sample.name, sample.image) for sample in open_negatives(folder)]
    dataset = open_dataset(folder)
    with_masks = [sample for sample in dataset if sample.mask is not None]
    if with_masks:
        raise DataError(
            f"{folder}: holds truth masks ({with_masks[0].mask.name}); pass its masks as --gt, "
            "not as --positives"
        )
    return [(sample.name, sample.image) for sample in dataset]


def _pred_folder(pred_dir: str | os.PathLike) -> Path:
    from endobench.data.pairing import list_images

    folder = Path(pred_dir)
    if (folder / "semantic_masks").is_dir() and not list_images(folder):
        return folder / "semantic_masks"
    return folder


def _read(files: FrameFiles, max_probability: Callable[[str], float] | None) -> Frame:
    """Read a frame's files: the prediction (None when missing) and the truth (an all-background
    truth of the image's size for a polyp-free frame, None for a polyp frame without a mask)."""
    from endobench.data.headers import image_size
    from endobench.data.readers import read_image, read_mask_channel

    prediction = None if files.prediction is None else read_mask_channel(files.prediction)
    score = None if max_probability is None else max_probability(files.name)
    if files.kind == "mask":
        truth = read_mask_channel(files.truth, truth=True)
    elif files.kind == "positive":
        truth = None
    else:
        size = image_size(files.image) or read_image(files.image).shape[:2]
        truth = np.zeros(size, dtype=np.uint8)
    return Frame(files.name, truth, prediction, score=score)
