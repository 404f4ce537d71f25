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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from endobench.data.pairing import list_images, numbered_mask_key, strip_mask_suffix
from endobench.data.readers import IMAGE_SUFFIXES, read_mask_channel
from endobench.errors import DataError, ScoringError
from endobench.metrics.endocv import binarize
from endobench.metrics.endocv_summary import ScoringWarning
from endobench.metrics.set_scorer import Frame, ScoreResult, SetScorer

#: File extensions read as masks (lower case): the data layer's image suffixes.
MASK_EXTENSIONS = IMAGE_SUFFIXES
_LISTED = 5
_ON_PROBLEM = ("error", "skip")
T = TypeVar("T")


def read_truth(path: str | os.PathLike, threshold: float = 0) -> np.ndarray:
    """Read a ground-truth mask as the toolkit does: channel 0 ``> threshold`` (toolkit: 0).

    Returns:
        ``H x W`` boolean mask.
    """
    return binarize(read_mask_channel(path, truth=True), threshold)


def mask_name(path: str | os.PathLike) -> str:
    """The pairing key of a mask file: its stem without a trailing ``_mask``."""
    return strip_mask_suffix(Path(path).stem)


def toolkit_truth_name(prediction_path: str | os.PathLike) -> str:
    """The truth stem the official toolkit derives from a prediction file name."""
    return Path(prediction_path).name.split(".")[0].split("_")[0]


class TruthFiles(list):
    """Truth files named as one source in messages (a named data set's masks: ``score
    --dataset``), given where a folder of truths is taken."""

    def __init__(self, files, name: str):
        super().__init__(Path(f) for f in files)
        self.name = name

    def __str__(self) -> str:
        return self.name


def list_masks(
    folder: str | os.PathLike | TruthFiles, role: str, on_problem: str = "error"
) -> tuple[dict[str, Path], list[str]]:
    """Map pairing key to file for every mask in ``folder``.

    Args:
        folder: The folder to list (not recursive), or the files themselves (:class:`TruthFiles`).
        role: ``"truth"`` or ``"prediction"``, for messages.
        on_problem: ``"error"``: two files with one key are an error; ``"skip"``: both are left
            out and listed.

    Returns:
        The masks by key, and one line per skipped clash.

    Raises:
        ScoringError: If the folder is missing, has no mask files, or (``"error"``) two files
            share a key.
    """
    if not isinstance(folder, TruthFiles):
        folder = Path(folder)
        if not folder.is_dir():
            raise ScoringError(
                f"{folder}: no such folder; pass the folder holding the {role} masks"
            )
    by_key: dict[str, list[Path]] = {}
    for path in folder if isinstance(folder, TruthFiles) else list_images(folder):
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
    refusal = f"{pred_dir}: {len(absent)} of {len(truths)} truths in {gt_dir} have no prediction"
    rule = without_prediction(absent, missing, on_problem, f"{refusal} ({_listing(absent)})")
    if rule == "skip":
        skipped += [f"truth without prediction: {truths[name].name}" for name in absent]
        truths = {k: v for k, v in truths.items() if k not in set(absent)}
    elif rule == "empty":
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


def without_prediction(absent: list[str], missing: str, on_problem: str, refusal: str) -> str:
    """What becomes of the frames without a prediction: ``""`` (there are none), ``"skip"`` (left
    out and listed) or ``"empty"`` (scored as empty masks).

    Raises:
        ScoringError: ``refusal`` and the fix, when neither ``missing="empty"`` nor
            ``on_problem="skip"`` allows them.
    """
    if not absent:
        return ""
    if missing == "error" and on_problem == "error":
        raise ScoringError(
            f"{refusal}; add them, pass --missing-as-empty to score them as empty or "
            "--skip-problems to leave them out"
        )
    return "skip" if missing == "error" else "empty"


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
        pairs: ``(name, truth, prediction)``: ``truth`` an ``H x W`` mask (``> 0`` is polyp),
            ``prediction`` a bool or uint8 mask of any size (``> threshold`` counts).
        threshold: Prediction values strictly above it count as foreground (the toolkit: 0).
        standard: Also compute the standard metrics (boundary HD/HD95, PraNet Dice/IoU,
            pysodmetrics); a uint8 prediction is taken as a 0-255 probability map, a bool one as 0/255.
        test_type: Label stored in the result.

    Returns:
        The scores of every pair, in the order given.
    """
    scorer = SetScorer(standard=standard, detection=False, pred_threshold=threshold)
    for name, truth, prediction in pairs:
        pixels = binarize(np.asarray(truth), 0).view(np.uint8) * np.uint8(255)
        scorer.update(Frame(name, pixels, prediction, prediction if standard else None))
    result = scorer.compute()
    result.test_type = test_type
    return result


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
            (:func:`endobench.metrics.standard.file_values`: truth and prediction pixels above 127
            are polyp).
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
    scorer = SetScorer(
        standard=standard,
        detection=False,
        gt_threshold=gt_threshold,
        pred_threshold=pred_threshold,
    )
    result = feed(
        scorer,
        pairs,
        _read_pair,
        on_problem=on_problem,
        progress=progress,
        skipped=skipped,
        nothing_left=lambda: (
            f"{gt_dir}: nothing left to score after skipping {len(skipped)} "
            f"problem(s) ({_listing(skipped)}); fix the files"
        ),
    )
    result.test_type = test_type
    result.warnings[:0] = notes
    return result


def feed(
    scorer: SetScorer,
    items: list,
    read: Callable[[Any], Frame],
    *,
    on_problem: str,
    progress: bool,
    skipped: list[str],
    nothing_left: Callable[[], str],
) -> ScoreResult:
    """Feed the frames that ``read(item)`` gives to ``scorer``, behind the progress bar and under
    the skip rule (:func:`read_or_skip`), and return its result with the skipped lines.

    Raises:
        ScoringError: ``nothing_left()`` when no frame was scored.
    """
    for item in track_scoring(items, progress):
        frame = read_or_skip(on_problem, skipped, read, item)
        if frame is not None:
            scorer.update(frame)
    if not len(scorer):
        raise ScoringError(nothing_left())
    result = scorer.compute()
    result.skipped = skipped
    return result


def read_or_skip(
    on_problem: str, skipped: list[str], read: Callable[..., T], *args: Any
) -> T | None:
    """Return ``read(*args)``; an unreadable file stops the scoring, or is skipped.

    Args:
        on_problem: ``"error"``: the :class:`DataError` is raised; ``"skip"``: its line is
            appended to ``skipped`` and None returned.
        skipped: The lines of what was left out so far.
        read: Reads the files of one image.
        args: Its arguments.
    """
    try:
        return read(*args)
    except DataError as err:
        if on_problem == "error":
            raise
        skipped.append(str(err))
        return None


def track_scoring(items: list, progress: bool):
    """``items`` behind a transient "scoring" progress bar on stderr (none for fewer than two)."""
    if not progress or len(items) < 2:
        return items
    from rich.console import Console
    from rich.progress import track

    return track(items, description="scoring", transient=True, console=Console(stderr=True))


def _read_pair(pair: tuple[str, Path, Path | None]) -> Frame:
    """A frame of a truth file and its prediction file (None when missing), read by the toolkit's
    channel-0 rule."""
    name, truth_path, pred_path = pair
    prediction = None if pred_path is None else read_mask_channel(pred_path)
    return Frame(name, read_mask_channel(truth_path, truth=True), prediction)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f", ... {len(names) - _LISTED} more" if len(names) > _LISTED else "")
