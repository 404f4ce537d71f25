"""Scores: the EndoCV2021 challenge's, exactly as its toolkit computes them, and standard ones.

Nothing here imports torch. The functional core works on numpy arrays
(:mod:`endobench.metrics.endocv`, :mod:`endobench.metrics.row_hausdorff`); the set-level summary,
its JSON/CSV and the generalisation score are in :mod:`endobench.metrics.endocv_summary`; one set's
scores, whoever reads the files, in :mod:`endobench.metrics.set_scorer` (:class:`SetScorer`); folder
and in-memory scoring in :mod:`endobench.metrics.folders`; the standard metrics (medpy, pysodmetrics,
PraNet's Dice/IoU) in :mod:`endobench.metrics.standard`, imported on demand.
"""

from endobench.metrics.endocv import (
    CSV_COLUMNS,
    ConfusionCounts,
    ImageScores,
    confusion_counts,
    mask_dice,
    prepare_prediction,
    score_masks,
    score_pair,
)
from endobench.metrics.endocv_summary import (
    EndoCVAccumulator,
    ScoringWarning,
    generalisation_score,
    load_summary,
    summarize,
    write_per_image_csv,
    write_summary_json,
)
from endobench.metrics.folders import (
    pair_truths_and_predictions,
    read_truth,
    score_arrays,
    score_folders,
)
from endobench.metrics.row_hausdorff import row_hausdorff
from endobench.metrics.set_scorer import Frame, FrameConsumer, ScoreResult, SetScorer

__all__ = [
    "CSV_COLUMNS",
    "ConfusionCounts",
    "EndoCVAccumulator",
    "Frame",
    "FrameConsumer",
    "ImageScores",
    "ScoreResult",
    "ScoringWarning",
    "SetScorer",
    "confusion_counts",
    "generalisation_score",
    "load_summary",
    "mask_dice",
    "pair_truths_and_predictions",
    "prepare_prediction",
    "read_truth",
    "row_hausdorff",
    "score_arrays",
    "score_folders",
    "score_masks",
    "score_pair",
    "summarize",
    "write_per_image_csv",
    "write_summary_json",
]
