"""Scores of a run's sets, computed from the files as written (what the challenge's scorer sees).

This module only reads a run's files into frames; the numbers come from the one set scorer,
:class:`endobench.metrics.set_scorer.SetScorer`, which ``endobench score`` feeds too. The written
``<name>_mask.jpg`` and the truth file are read exactly as ``endobench score`` reads them (channel
0), so the EndoCV numbers and the standard metrics equal ``endobench score --standard --gt <truth>
--pred <set>_pred`` on the same files, except that with ``--save-prob`` the standard metrics read
the 8-bit probability maps instead of the masks (recorded as ``prediction_source``), and PraNet's
eval/main.m figures are computed from the truth and map files exactly as ``endobench score --maps``
computes them (:data:`endobench.metrics.pranet_files.PRANET_EVAL`). Writing the
results is the run folder's job (:meth:`endobench.writers.run_folder.RunFolder.write_scores`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from endobench.data.readers import read_mask_channel
from endobench.metrics.pranet_files import PRANET_EVAL
from endobench.metrics.set_scorer import (
    Frame,
    MeasuredFrame,
    ScoreResult,
    ScoringRules,
    SetScorer,
)
from endobench.writers.masks import mask_path, prob_path, read_prob

#: ``(set, entry) -> MeasuredFrame``: where a set's measured frames come from (a ScorePool's).
MeasuredFrames = Callable[[str, Mapping[str, Any]], MeasuredFrame]


def run_scorer(truth: bool = True, use_prob: bool = False) -> SetScorer:
    """The scorer of one set of a run: the standard metrics for sets with truth (and PraNet's
    eval/main.m figures when the run saved its maps), detection always."""
    return SetScorer(standard=truth, consumers=(PRANET_EVAL,) if truth and use_prob else ())


@functools.cache
def run_rules(truth: bool = True, use_prob: bool = False) -> ScoringRules:
    """How :func:`run_scorer` measures one frame, made once per process (measuring holds no
    state), so that scoring an image builds no scorer."""
    return run_scorer(truth, use_prob).rules


def score_image(
    run_dir: str | Path,
    set_name: str,
    entry: Mapping[str, Any],
    use_prob: bool,
    truth: bool = True,
) -> MeasuredFrame:
    """Read one image of a run into a frame and measure it (any process; reads only files).

    Args:
        run_dir: The run folder.
        set_name: The set.
        entry: The image's manifest entry (``name``, ``mask`` or None, ``height``, ``width``).
        use_prob: Read the probability map for the standard metrics.
        truth: False for a frame of ``--positives`` (a polyp frame without a mask): detection only.
    """
    prediction = read_mask_channel(mask_path(run_dir, set_name, entry["name"]))
    frame = Frame(entry["name"], None, prediction)
    if truth:
        probability, files = None, None
        if use_prob:
            map_file = prob_path(run_dir, set_name, entry["name"])
            probability = np.rint(read_prob(map_file) * 255).astype(np.uint8)  # the PNG's values
            files = (str(entry["mask"]), str(map_file)) if entry.get("mask") else None
        frame = Frame(entry["name"], _truth_channel(entry), prediction, probability, files=files)
    return run_rules(truth, use_prob).measure(frame)


def score_set(
    run_dir: str | Path,
    set_name: str,
    entries: Sequence[Mapping[str, Any]],
    use_prob: bool,
    progress: Callable[[int], Any] | None = None,
    frame_scores: Mapping[str, float | None] | None = None,
    results: MeasuredFrames | None = None,
    truth: bool = True,
    scorer: SetScorer | None = None,
) -> ScoreResult:
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
        results: Where the measured frames come from (a :class:`ScorePool`'s, computed while
            inferring); None measures each here. Added in ``entries``' order either way, so the
            scores are the same to the byte.
        truth: False for a set of polyp frames without masks (``--positives``): detection only.
        scorer: The set's scorer (from :func:`run_scorer`), when the caller keeps its frames to
            pool them over the run's sets.

    Returns:
        The set's scores, the standard metrics with the prediction source and the rules they used.
    """
    frame_scores = frame_scores or {}
    scorer = scorer if scorer is not None else run_scorer(truth, use_prob)
    for entry in entries:
        if results is None:
            measured = score_image(run_dir, set_name, entry, use_prob, truth)
        else:
            measured = results(set_name, entry)
        scorer.add(measured, frame_scores.get(entry["name"]))
        if progress is not None:
            progress(1)
    result = scorer.compute()
    if result.standard is not None:
        result.standard["prediction_source"] = (
            "probability maps (8-bit)" if use_prob else "binary masks as written"
        )
        result.standard["truth_rule"] = "> 127"
        result.standard["prediction_rule"] = "> 127"
    return result


def _truth_channel(entry: Mapping[str, Any]) -> np.ndarray:
    if entry.get("mask"):
        return read_mask_channel(entry["mask"], truth=True)
    return np.zeros((int(entry["height"]), int(entry["width"])), dtype=np.uint8)
