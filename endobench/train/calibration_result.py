"""What `endobench calibrate` chose, and how it is shown: the result, the input-size trials and the
terminal lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from endobench.train.operating_point import (
    REPORTED,
    Candidate,
    TradeOff,
    coarse_budget_note,
    fp_rate_text,
)
from endobench.train.temporal_choice import TemporalChoice, describe_temporal


@dataclass(frozen=True)
class SizeTrial:
    """One candidate input side and the best post-processing found at it.

    Attributes:
        size: Input side in pixels.
        chosen: The best candidate within the budget at this side (None: none within it).
        plain_dice: Mean Dice of a plain ``> 0.5`` threshold on the positive frames.
        plain_fp_rate: False-positive frame rate of that threshold (None without negatives).
    """

    size: int
    chosen: Candidate | None
    plain_dice: float
    plain_fp_rate: float | None


@dataclass
class CalibrationResult:
    """What calibration chose and what it changed on the validation frames.

    Attributes:
        checkpoint: The written checkpoint (empty until a file is written).
        params: The chosen ``reference_area``, ``confidence`` and ``polarise``.
        before: Positive frames' mean Dice, Jaccard, PPV, recall with a plain ``> 0.5`` threshold.
        after: The same with the chosen post-processing.
        n_train_masks: Training masks that gave the smallest polyp.
        n_val: Positive validation frames.
        trade_off: Every candidate, the curve and the choice, at the chosen input side.
        n_negatives: Negative validation frames (empty truths of ``val_pairs`` and the negatives).
        plot: The trade-off plot, once written.
        size: The chosen input side.
        size_trials: Every input side tried, in the order given (one entry without a sweep).
        temporal: The temporal filter of `endobench stream` (None without negative frames).
    """

    checkpoint: Path
    params: dict[str, float]
    before: dict[str, float]
    after: dict[str, float]
    n_train_masks: int
    n_val: int
    trade_off: TradeOff | None = None
    n_negatives: int = 0
    plot: Path | None = None
    size: int = 0
    size_trials: list[SizeTrial] = field(default_factory=list)
    temporal: TemporalChoice | None = None


def size_rank(trial: SizeTrial) -> tuple:
    """Sort key, best first: a candidate within the budget, higher Dice, lower false-positive
    frame rate, then the smaller (faster) side."""
    c = trial.chosen
    if c is None:
        return (1, 0.0, 0.0, trial.size)
    return (0, -round(c.dice, 6), c.fp_rate or 0.0, trial.size)


def size_table(result: CalibrationResult):
    """A rich table of the input sides tried, the chosen one marked (None for a single side)."""
    from rich.table import Table

    if len(result.size_trials) < 2:
        return None
    table = Table(
        title=f"input side: best post-processed Dice on {result.n_val} positive frames within "
        f"the budget, and a plain > 0.5 threshold; FP = false-positive frame rate on "
        f"{result.n_negatives} negative frames"
    )
    for header in ("", "side", "Dice", "sensitivity", "FP", "plain Dice", "plain FP"):
        table.add_column(header, justify="right")
    for t in result.size_trials:
        c = t.chosen
        table.add_row(
            "chosen" if t.size == result.size else "",
            str(t.size),
            f"{c.dice:.4f}" if c else "none within budget",
            f"{c.sensitivity:.3f}" if c else "",
            fp_rate_text(c.fp_rate) if c else "",
            f"{t.plain_dice:.4f}",
            fp_rate_text(t.plain_fp_rate),
        )
    return table


def describe_calibration(result: CalibrationResult) -> str:
    """A few lines for the terminal: the parameters and the validation metrics before/after."""
    p = result.params
    rates = result.trade_off
    negatives = (
        f"; false-positive frame rate on {result.n_negatives} negative frames: "
        f"{rates.plain_fp_rate:.3f} at > 0.5, {rates.chosen.fp_rate:.3f} post-processed "
        f"(budget {rates.max_fp_rate:g})"
        if result.n_negatives
        else "; no negative frames (give --negatives for a false-positive budget)"
    )
    sides = (
        f" (best of {', '.join(str(t.size) for t in result.size_trials)})"
        if len(result.size_trials) > 1
        else ""
    )
    lines = [
        f"input side: {result.size} px{sides}",
        f"post-processing: reference_area {p['reference_area']:.5f} (smallest of "
        f"{result.n_train_masks} training masks x {p['reference_area'] / rates.base_area:g}), "
        f"confidence {p['confidence']:g}, polarise {p['polarise']:g}{negatives}",
        f"positive frames ({result.n_val})  " + "  ".join(f"{k:>8}" for k in REPORTED),
        "  > 0.5 threshold       " + "  ".join(f"{result.before[k]:8.4f}" for k in REPORTED),
        "  post-processed        " + "  ".join(f"{result.after[k]:8.4f}" for k in REPORTED),
        f"trade-off plot: {result.plot}" if result.plot else "",
        coarse_budget_note(result.n_negatives, rates.max_fp_rate),
        describe_temporal(result.temporal) if result.temporal else "",
        f"written: {result.checkpoint}",
    ]
    return "\n".join(line for line in lines if line)
