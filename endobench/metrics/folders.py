"""Scoring folders of masks (``endobench score``) and in-memory pairs (the runner).

Files pair by name: a prediction ``<name>_mask.<ext>`` or ``<name>.<ext>`` goes with the truth
``<name>.<ext>`` or ``<name>_mask.<ext>``, whatever ``<name>`` holds (underscores and dots
included). The official toolkit instead looks up ``name.split('.')[0].split('_')[0] + '.jpg'``,
which pairs ``case_12_mask.jpg`` with ``case.jpg``; endobench warns wherever the toolkit would have
paired differently.

Masks are read as the toolkit reads them, through the data layer's one toolkit reader
:func:`endobench.data.readers.read_mask_channel` (``cv2.imread(file)`` channel 0, ``> 0``; TIFF
through tifffile; truncated files refused). The ``threshold`` options change the ``> 0`` rule (e.g.
``> 127`` for the standard metrics' convention); the EndoCV numbers are only the challenge's with
the default 0. Which files count as masks (image suffixes; hidden files, AppleDouble ``._*`` and
system files such as ``Thumbs.db`` ignored) is the data layer's pairing rule
(:func:`endobench.data.pairing.list_images`).

With ``on_problem="skip"`` (``score --skip-problems``) a truth without prediction, two files with
one name and an unreadable (truncated, undecodable) file are left out of the scores and listed in
:attr:`ScoreResult.skipped` instead of stopping the scoring.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from endobench.data.pairing import list_images, numbered_mask_key, strip_mask_suffix
from endobench.data.readers import IMAGE_SUFFIXES, read_mask_channel
from endobench.errors import ScoringError
from endobench.metrics.endocv import ImageScores, binarize, score_pair
from endobench.metrics.endocv_summary import (
    EndoCVAccumulator,
    ScoringWarning,
    write_per_image_csv,
    write_summary_json,
)
from endobench.metrics.score_steps import (
    as_probability_map,
    read_or_skip,
    standard_accumulator,
    track_scoring,
)

#: File extensions read as masks (lower case): the data layer's image suffixes.
MASK_EXTENSIONS = IMAGE_SUFFIXES
_LISTED = 5
_ON_PROBLEM = ("error", "skip")


@dataclass
class ScoreResult:
    """What scoring a set gives: per-image rows, the toolkit summary, and the optional extras.

    Attributes:
        rows: ``(name, scores)`` per image, sorted by name.
        summary: The toolkit's JSON summary (``{"EndoCV2021_seg": {...}}``).
        test_type: The label of the test set (the toolkit's ``--testType``), or None.
        standard: The standard metrics (:func:`endobench.metrics.standard.StandardMetrics.compute`)
            when requested, else None.
        warnings: Every warning issued while scoring, one line each.
        missing: Names of the truths that had no prediction and were scored as empty.
        skipped: With ``on_problem="skip"``: one line per file left out (unreadable, no
            prediction, two files with one name).
        detection: The frame-level detection figures (:mod:`endobench.metrics.detection`) when
            frames were scored with ``--negatives``/``--positives``, else None; written beside the
            toolkit's key in the JSON.
    """

    rows: list[tuple[str, ImageScores]]
    summary: dict
    test_type: str | None = None
    standard: dict | None = None
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    detection: dict | None = None

    def write_json(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the toolkit JSON summary atomically; refuses to replace a file unless ``overwrite``."""
        data = dict(self.summary or {})
        if self.detection is not None:
            data["detection"] = self.detection
        return write_summary_json(path, data, overwrite=overwrite)

    def write_csv(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the per-image CSV atomically; refuses to replace a file unless ``overwrite``."""
        return write_per_image_csv(path, self.rows, overwrite=overwrite)


def read_truth(path: str | os.PathLike, threshold: float = 0) -> np.ndarray:
    """Read a ground-truth mask as the toolkit does: channel 0 ``> threshold`` (toolkit: 0).

    Returns:
        ``H x W`` boolean mask.
    """
    return binarize(read_mask_channel(path), threshold)


def mask_name(path: str | os.PathLike) -> str:
    """The pairing key of a mask file: its stem without a trailing ``_mask``."""
    return strip_mask_suffix(Path(path).stem)


def toolkit_truth_name(prediction_path: str | os.PathLike) -> str:
    """The truth stem the official toolkit derives from a prediction file name."""
    return Path(prediction_path).name.split(".")[0].split("_")[0]


def list_masks(
    folder: str | os.PathLike, role: str, on_problem: str = "error"
) -> tuple[dict[str, Path], list[str]]:
    """Map pairing key to file for every mask in ``folder``.

    Args:
        folder: The folder to list (not recursive).
        role: ``"truth"`` or ``"prediction"``, for messages.
        on_problem: ``"error"``: two files with one key are an error; ``"skip"``: both are left
            out and listed.

    Returns:
        The masks by key, and one line per skipped clash.

    Raises:
        ScoringError: If the folder is missing, has no mask files, or (``"error"``) two files
            share a key.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScoringError(f"{folder}: no such folder; pass the folder holding the {role} masks")
    by_key: dict[str, list[Path]] = {}
    for path in list_images(folder):
        by_key.setdefault(mask_name(path), []).append(path)
    found = {key: paths[0] for key, paths in by_key.items() if len(paths) == 1}
    clashes = [" / ".join(p.name for p in paths) for paths in by_key.values() if len(paths) > 1]
    if clashes and on_problem == "error":
        raise ScoringError(
            f"{folder}: {len(clashes)} {role} names pair ambiguously ({_listing(clashes)}); "
            "keep one file per name, or pass --skip-problems"
        )
    if not found:
        raise ScoringError(
            f"{folder}: no {role} masks ({', '.join(MASK_EXTENSIONS)}); pass the folder that holds them"
        )
    return found, [f"{role} names pair ambiguously: {clash}" for clash in clashes]


def pair_truths_and_predictions(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    missing: str = "error",
    on_problem: str = "error",
) -> tuple[list[tuple[str, Path, Path | None]], list[str], list[str]]:
    """Pair truth and prediction files by name.

    Args:
        gt_dir: Folder of truth masks.
        pred_dir: Folder of predictions; when it holds no masks but a ``semantic_masks`` folder
            (the toolkit's layout), that folder is used.
        missing: ``"error"``: a truth without prediction is a problem (see ``on_problem``);
            ``"empty"``: it is scored against an empty prediction.
        on_problem: ``"error"``: problems raise; ``"skip"``: the files are left out and listed.

    Returns:
        ``(name, truth_path, prediction_path or None)`` sorted by name, the warnings, and one line
        per skipped file.

    Raises:
        ScoringError: On problems (with ``on_problem="error"``) or unreadable folders.
    """
    if missing not in ("error", "empty"):
        raise ValueError(f"missing must be 'error' or 'empty', not {missing!r}")
    if on_problem not in _ON_PROBLEM:
        raise ValueError(f"on_problem must be 'error' or 'skip', not {on_problem!r}")
    pred_dir = Path(pred_dir)
    if (pred_dir / "semantic_masks").is_dir() and not list_images(pred_dir):
        pred_dir = pred_dir / "semantic_masks"
    truths, skipped = list_masks(gt_dir, "truth", on_problem)
    predictions, pred_skipped = list_masks(pred_dir, "prediction", on_problem)
    skipped += pred_skipped
    truths = _release_numbering(truths, predictions)
    notes: list[str] = []
    absent = sorted(set(truths) - set(predictions))
    if absent and missing == "error" and on_problem == "error":
        raise ScoringError(
            f"{pred_dir}: {len(absent)} of {len(truths)} truths in {gt_dir} have no prediction "
            f"({_listing(absent)}); add them, pass --missing-as-empty to score them as empty or "
            "--skip-problems to leave them out"
        )
    if absent and missing == "error":
        skipped += [f"truth without prediction: {truths[name].name}" for name in absent]
        truths = {k: v for k, v in truths.items() if k not in set(absent)}
    elif absent:
        notes.append(
            f"{len(absent)} truths have no prediction and are scored as empty ({_listing(absent)})"
        )
    orphans = sorted(set(predictions) - set(truths))
    if orphans:
        notes.append(
            f"{len(orphans)} predictions in {pred_dir} have no truth and are ignored ({_listing(orphans)})"
        )
    misread = sorted(
        f"{predictions[k].name} -> {toolkit_truth_name(predictions[k])}.jpg, not {truths[k].name}"
        for k in set(truths) & set(predictions)
        if toolkit_truth_name(predictions[k]) != truths[k].stem
    )
    if misread:
        notes.append(
            f"the official toolkit would mis-pair {len(misread)} predictions by name.split('_')[0] "
            f"({_listing(misread)}); endobench pairs them by full name"
        )
    pairs = [(name, truths[name], predictions.get(name)) for name in sorted(truths)]
    return pairs, notes, skipped


def _release_numbering(truths: dict[str, Path], predictions: dict[str, Path]) -> dict[str, Path]:
    """Key ETIS/ColonDB release truths ``pN`` by their frame number ``N``, as the predictions of
    frame ``N.tif`` are named, when every truth is so named and no prediction is."""
    numbers = {key: numbered_mask_key(key) for key in truths}
    if None in numbers.values() or any(numbered_mask_key(key) for key in predictions):
        return truths
    return {numbers[key]: path for key, path in truths.items()}


def score_arrays(
    pairs: Iterable[tuple[str, np.ndarray, np.ndarray]],
    *,
    threshold: float = 0,
    standard: bool = False,
    test_type: str | None = None,
) -> ScoreResult:
    """Score in-memory pairs as the toolkit would score them written to files.

    Args:
        pairs: ``(name, truth, prediction)``: ``truth`` an ``H x W`` boolean mask (already
            binarised), ``prediction`` a bool or uint8 mask of any size (``> threshold`` counts).
        threshold: Prediction values strictly above it count as foreground (the toolkit: 0).
        standard: Also compute the standard metrics (boundary HD/HD95, PraNet Dice/IoU,
            pysodmetrics); a uint8 prediction is taken as a 0-255 probability map, a bool one as 0/255.
        test_type: Label stored in the result.

    Returns:
        The scores of every pair, in the order given.
    """
    accumulator = EndoCVAccumulator()
    extra = standard_accumulator(standard)
    for name, truth, prediction in pairs:
        truth = np.asarray(truth)
        if truth.dtype != bool:
            truth = binarize(truth, 0)
        accumulator.update(name, score_pair(truth, prediction, threshold))
        if extra is not None:
            extra.update(name, truth, as_probability_map(prediction, truth.shape))
    return _finish(accumulator, extra, test_type, [], [])


def score_folders(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    *,
    missing: str = "error",
    test_type: str | None = None,
    progress: bool = True,
    standard: bool = False,
    gt_threshold: float = 0,
    pred_threshold: float = 0,
    on_problem: str = "error",
) -> ScoreResult:
    """Score a folder of predictions against a folder of truths with the EndoCV2021 toolkit's numbers.

    Args:
        gt_dir: Truth masks ``<name>.<ext>`` or ``<name>_mask.<ext>``.
        pred_dir: Predictions ``<name>_mask.<ext>`` or ``<name>.<ext>`` (jpg, png, tif...).
        missing: ``"error"`` (default) or ``"empty"`` for truths without a prediction.
        test_type: Label of the test set (the toolkit's ``--testType``).
        progress: Show a progress bar on stderr.
        standard: Also compute the standard metrics, by the rule ``endobench run`` uses too
            (:meth:`endobench.metrics.standard.StandardMetrics.update_from_files`: truth and
            prediction pixels above 127 are polyp).
        gt_threshold: Truth values strictly above it are polyp (the toolkit: 0).
        pred_threshold: Prediction values strictly above it are polyp (the toolkit: 0).
        on_problem: ``"error"``: a problem stops the scoring; ``"skip"``: truths without
            prediction, clashing names and unreadable files are left out and listed in
            :attr:`ScoreResult.skipped`.

    Returns:
        A :class:`ScoreResult`; its ``warnings`` were also issued as :class:`ScoringWarning`.

    Raises:
        ScoringError: Missing predictions, empty or ambiguous folders, or nothing left to score.
        DataError: An unreadable (truncated, undecodable) file, naming it.
    """
    pairs, notes, skipped = pair_truths_and_predictions(
        gt_dir, pred_dir, missing=missing, on_problem=on_problem
    )
    for note in notes:
        warnings.warn(note, ScoringWarning, stacklevel=2)
    accumulator = EndoCVAccumulator()
    extra = standard_accumulator(standard)
    missing_names: list[str] = []
    for name, truth_path, pred_path in track_scoring(pairs, progress):
        raws = read_or_skip(on_problem, skipped, _read_raw_pair, truth_path, pred_path)
        if raws is None:
            continue
        raw_truth, raw_pred = raws
        truth = binarize(raw_truth, gt_threshold)
        if raw_pred is None:
            missing_names.append(name)
            raw_pred = np.zeros(truth.shape, dtype=np.uint8)
        accumulator.update(name, score_pair(truth, raw_pred, pred_threshold))
        if extra is not None:
            extra.update_from_files(name, raw_truth, raw_pred)
    if not len(accumulator):
        raise ScoringError(
            f"{gt_dir}: nothing left to score after skipping {len(skipped)} problem(s) "
            f"({_listing(skipped)}); fix the files"
        )
    result = _finish(accumulator, extra, test_type, notes, missing_names)
    result.skipped = skipped
    return result


def _finish(accumulator, extra, test_type, notes, missing_names) -> ScoreResult:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScoringWarning)
        summary = accumulator.compute()
    for warning in caught:
        notes.append(str(warning.message))
        warnings.warn(str(warning.message), ScoringWarning, stacklevel=3)
    return ScoreResult(
        rows=accumulator.rows(),
        summary=summary,
        test_type=test_type,
        standard=extra.compute() if extra is not None else None,
        warnings=notes,
        missing=missing_names,
    )


def _read_raw_pair(
    truth_path: Path, pred_path: Path | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The raw truth and prediction (None when missing), read by the toolkit's channel-0 rule."""
    return read_mask_channel(truth_path), (
        None if pred_path is None else read_mask_channel(pred_path)
    )


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f", ... {len(names) - _LISTED} more" if len(names) > _LISTED else "")
