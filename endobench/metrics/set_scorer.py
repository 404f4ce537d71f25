"""One set's scores, in torchmetrics' shape: :meth:`SetScorer.update` per frame, ``compute`` once.

Every scorer of a set goes through :class:`SetScorer`: ``endobench score`` (folders of truths and
predictions, :mod:`endobench.metrics.folders`; frames known without a mask,
:mod:`endobench.metrics.frames`) and ``endobench run`` (the files it wrote,
:mod:`endobench.runner.scoring`). Those only list and read files into :class:`Frame` values; the
rules that turn a frame into numbers are here, once:

- the EndoCV2021 toolkit's scores (:func:`endobench.metrics.endocv.score_pair`), for every frame
  whose truth is known (a truth mask, or polyp-free: an all-background truth);
- the frame-level detection figures (:mod:`endobench.metrics.detection`): a frame is called polyp
  when its mask has a pixel above the prediction threshold, and is one when its truth has a pixel
  above the truth threshold or it is a polyp frame without a mask;
- per-frame consumers (:class:`FrameConsumer`) fed the truth and the prediction or probability
  map: the standard metrics (:data:`STANDARD`) and any other block that plugs in the same way.

Measuring a frame (:meth:`ScoringRules.measure`) needs no state, so it runs in any process (the
run's scoring pool); :meth:`SetScorer.add` then adds the measured frames in the set's order, and the
figures are the same to the byte as scoring one frame after another.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from endobench.metrics.detection import (
    FOREGROUND_FRACTION,
    MAX_PROBABILITY,
    DetectionAccumulator,
    foreground_fraction,
    frame_positive,
)
from endobench.metrics.endocv import ImageScores, binarize, score_pair
from endobench.metrics.endocv_summary import (
    EndoCVAccumulator,
    ScoringWarning,
    write_per_image_csv,
    write_summary_json,
)


@dataclass(frozen=True)
class Frame:
    """One frame to score, as read from its files.

    Attributes:
        name: The frame's name (its row in the per-image scores).
        truth: The truth file's pixels (channel 0, as the toolkit reads it); an all-zero array of
            the image's size for a polyp-free frame; None for a polyp frame without a mask (it
            counts in the detection figures alone).
        prediction: The written mask's pixels (channel 0), any size; None when there is no
            prediction (scored as an empty mask, and listed as missing).
        probability: An 8-bit probability map of the frame, when the per-frame consumers should
            read it instead of the mask (``run --save-prob``).
        score: The frame's detection score for the AUROC (its maximum probability), when known.
        files: The truth file and the probability-map file, for blocks that read the files by
            their own rule (PraNet's eval/main.m: :data:`endobench.metrics.pranet_files.PRANET_EVAL`).
    """

    name: str
    truth: np.ndarray | None
    prediction: np.ndarray | None
    probability: np.ndarray | None = None
    score: float | None = None
    files: tuple[str, str] | None = None


class FrameAccumulator(Protocol):
    """What a per-frame consumer's accumulator does (the standard metrics' shape)."""

    def add(self, name: str, values: Any) -> None:
        """Add one frame's values, in the set's order."""

    def compute(self) -> dict:
        """Return the set's figures."""


@dataclass(frozen=True)
class FrameConsumer:
    """A block of figures computed from each frame with a truth, plugged into :class:`SetScorer`.

    Attributes:
        key: The block's name (``"standard"``; others land in :attr:`ScoreResult.extras`).
        measure: A module-level function (picklable, so it runs in the scoring pool's processes)
            from a :class:`Frame` with a truth to that frame's values.
        accumulator: Makes the set's accumulator: ``add(name, values)``, ``compute()``.
    """

    key: str
    measure: Callable[[Frame], Any]
    accumulator: Callable[[], FrameAccumulator]


def standard_values(frame: Frame) -> dict[str, Any]:
    """The standard metrics' values of a frame, by their one rule for files
    (:func:`endobench.metrics.standard.file_values`): its probability map when it has one, else
    its mask (an empty one when the prediction is missing)."""
    from endobench.metrics.standard import file_values

    if frame.probability is not None:
        return file_values(frame.name, frame.truth, frame.probability, probability=True)
    return file_values(frame.name, frame.truth, _prediction_or_empty(frame))


def _standard_metrics() -> FrameAccumulator:
    from endobench.metrics.standard import StandardMetrics

    return StandardMetrics()


#: The standard metrics (:mod:`endobench.metrics.standard`) as a per-frame consumer.
STANDARD = FrameConsumer("standard", standard_values, _standard_metrics)


@dataclass(frozen=True)
class MeasuredFrame:
    """What one frame adds to its set (computed in any process, added in the set's order).

    Attributes:
        name: The frame's name.
        endocv: The toolkit's scores; None for a polyp frame without a mask.
        truth_positive: The frame shows a polyp.
        pred_positive: Its mask calls it polyp.
        score: Its detection score (None when unknown).
        missing: It had no prediction and was scored as an empty mask.
        values: Each consumer's values by its key (none for a frame without a truth).
    """

    name: str
    endocv: ImageScores | None
    truth_positive: bool
    pred_positive: bool
    score: float | None
    missing: bool = False
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringRules:
    """How frames become numbers: the thresholds, the detection score's rule and the consumers.

    Attributes:
        gt_threshold: Truth pixels strictly above it are polyp (the toolkit: 0).
        pred_threshold: Prediction pixels strictly above it are polyp (the toolkit: 0).
        frame_score: :data:`MAX_PROBABILITY` (each frame's given score) or
            :data:`FOREGROUND_FRACTION` (its mask's share of polyp pixels).
        consumers: The per-frame consumers, in order.
    """

    gt_threshold: float = 0
    pred_threshold: float = 0
    frame_score: str = MAX_PROBABILITY
    consumers: tuple[FrameConsumer, ...] = ()

    def measure(self, frame: Frame) -> MeasuredFrame:
        """Measure one frame (no state: any process, any order)."""
        prediction = _prediction_or_empty(frame)
        called = binarize(prediction, self.pred_threshold)
        score = (
            foreground_fraction(called) if self.frame_score == FOREGROUND_FRACTION else frame.score
        )
        if frame.truth is None:
            return MeasuredFrame(
                frame.name, None, True, frame_positive(called), score, frame.prediction is None
            )
        truth = binarize(frame.truth, self.gt_threshold)
        return MeasuredFrame(
            frame.name,
            score_pair(truth, prediction, self.pred_threshold),
            frame_positive(truth),
            frame_positive(called),
            score,
            frame.prediction is None,
            {consumer.key: consumer.measure(frame) for consumer in self.consumers},
        )


@dataclass
class ScoreResult:
    """What scoring a set gives: per-image rows, the toolkit summary, and the optional blocks.

    Attributes:
        rows: ``(name, scores)`` per image with a truth, in the order scored.
        summary: The toolkit's JSON summary (``{"EndoCV2021_seg": {...}}``); None when no frame
            has a truth (polyp frames without masks alone).
        test_type: The label of the test set (the toolkit's ``--testType``), or None.
        standard: The standard metrics (:meth:`endobench.metrics.standard.StandardMetrics.compute`)
            when requested, else None.
        warnings: Every warning issued while scoring, one line each.
        missing: Names of the frames that had no prediction and were scored as empty.
        skipped: One line per file left out (``--skip-problems``).
        detection: The frame-level detection figures (:mod:`endobench.metrics.detection`) when
            asked for, else None; written beside the toolkit's key in the JSON.
        extras: The figures of every other per-frame consumer, by its key.
    """

    rows: list[tuple[str, ImageScores]]
    summary: dict | None
    test_type: str | None = None
    standard: dict | None = None
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    detection: dict | None = None
    extras: dict[str, dict] = field(default_factory=dict)

    def write_json(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the toolkit JSON summary atomically; refuses to replace a file unless ``overwrite``."""
        data = dict(self.summary or {})
        if self.detection is not None:
            data["detection"] = self.detection
        return write_summary_json(path, data, overwrite=overwrite)

    def write_csv(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the per-image CSV atomically; refuses to replace a file unless ``overwrite``."""
        return write_per_image_csv(path, self.rows, overwrite=overwrite)


class SetScorer:
    """Scores one set of frames: ``update(frame)`` (or ``add`` of a measured frame), ``compute()``.

    Args:
        standard: Add the standard metrics (:data:`STANDARD`).
        detection: Compute the frame-level detection figures.
        frame_score: The detection score's rule (:data:`MAX_PROBABILITY`, each frame's given
            score, or :data:`FOREGROUND_FRACTION`).
        gt_threshold: Truth pixels strictly above it are polyp (the toolkit: 0).
        pred_threshold: Prediction pixels strictly above it are polyp (the toolkit: 0).
        consumers: Further per-frame consumers, after the standard metrics.
    """

    def __init__(
        self,
        *,
        standard: bool = False,
        detection: bool = True,
        frame_score: str = MAX_PROBABILITY,
        gt_threshold: float = 0,
        pred_threshold: float = 0,
        consumers: Iterable[FrameConsumer] = (),
    ) -> None:
        chosen = ((STANDARD,) if standard else ()) + tuple(consumers)
        self.rules = ScoringRules(gt_threshold, pred_threshold, frame_score, chosen)
        self.with_detection = detection
        self.endocv = EndoCVAccumulator()
        self.frames = DetectionAccumulator(frame_score=frame_score)
        self.blocks = {consumer.key: consumer.accumulator() for consumer in chosen}
        self.missing: list[str] = []

    def update(self, frame: Frame) -> None:
        """Measure one frame and add it."""
        self.add(self.rules.measure(frame))

    def add(self, measured: MeasuredFrame, score: float | None = None) -> None:
        """Add a measured frame (frames must come in the set's order).

        Args:
            measured: From :meth:`ScoringRules.measure`.
            score: The frame's detection score when it was not known while measuring.
        """
        if score is not None:
            measured = replace(measured, score=score)
        if measured.missing:
            self.missing.append(measured.name)
        self.frames.update(measured.truth_positive, measured.pred_positive, measured.score)
        if measured.endocv is None:
            return
        self.endocv.update(measured.name, measured.endocv)
        for key, values in measured.values.items():
            self.blocks[key].add(measured.name, values)

    def __len__(self) -> int:
        return len(self.frames)

    def compute(self) -> ScoreResult:
        """Return the set's figures; the toolkit's warnings (NaN distances) are issued and listed."""
        notes: list[str] = []
        summary = None
        if len(self.endocv):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ScoringWarning)
                summary = self.endocv.compute()
            for warning in caught:
                notes.append(str(warning.message))
                warnings.warn(str(warning.message), ScoringWarning, stacklevel=2)
        figures = {key: block.compute() for key, block in self.blocks.items() if len(self.endocv)}
        return ScoreResult(
            rows=self.endocv.rows(),
            summary=summary,
            standard=figures.pop(STANDARD.key, None),
            warnings=notes,
            missing=list(self.missing),
            detection=self.frames.compute() if self.with_detection else None,
            extras=figures,
        )


def pooled_detection(scorers: Iterable[SetScorer]) -> dict:
    """The detection figures of the frames of several sets together (a run's pooled AUROC)."""
    pooled = DetectionAccumulator()
    for scorer in scorers:
        frames = scorer.frames
        pooled.extend(zip(frames.truth, frames.predicted, frames.scores, strict=True))
    return pooled.compute()


def _prediction_or_empty(frame: Frame) -> np.ndarray:
    if frame.prediction is not None:
        return frame.prediction
    shape = (1, 1) if frame.truth is None else np.shape(frame.truth)[:2]
    return np.zeros(shape, dtype=np.uint8)
