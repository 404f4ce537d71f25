"""Choosing the post-processing at an operating point: Dice on positive frames within a false-positive
frame budget.

Every validation frame is reduced, as it is predicted, to a few numbers (full-size probability maps
of 1080p frames are never kept): for each candidate ``confidence`` the share of its pixels above it
(the seed paper's "white" area), its largest probability and, for a positive frame (a truth with any
foreground), the Dice (:func:`endobench.metrics.mask_dice`) and the EndoCV2021 confusion counts of
``probability > polarise`` for each candidate ``polarise``.

A candidate ``(reference_area, confidence, polarise)`` post-processes a frame exactly as
:func:`endobench.models.postprocess.postprocess` does: a polyp case (white share above the reference
area) becomes ``probability > polarise``, any other frame all background. A frame is called
positive when that mask has any foreground pixel. On the candidates:

- positive Dice: mean Dice over positive frames (a cleared positive frame scores 0);
- sensitivity: share of positive frames called positive;
- false-positive frame rate: share of negative frames (empty truth) called positive.

The chosen candidate has the highest positive Dice among those whose false-positive frame rate is
at most the budget (ties: lower rate, then smaller area, confidence and polarise). Without negative
frames every candidate is within budget.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from endobench.errors import ConfigError

DEFAULT_MAX_FP_RATE = 0.05
#: Reference areas tried: the smallest training polyp times these factors.
AREA_FACTORS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
CONFIDENCES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
POLARISES = (0.3, 0.4, 0.5, 0.6, 0.7)
REPORTED = ("dice", "jaccard", "ppv", "recall")


@dataclass(frozen=True)
class Grid:
    """The candidate values (reference areas as factors of the smallest training polyp)."""

    area_factors: tuple[float, ...] = AREA_FACTORS
    confidences: tuple[float, ...] = CONFIDENCES
    polarises: tuple[float, ...] = POLARISES

    @classmethod
    def from_dict(cls, grid: dict[str, Sequence[float]] | None) -> Grid:
        """``{"area_factors": ..., "confidence": ..., "polarise": ...}``, each optional."""
        grid = grid or {}
        return cls(
            tuple(float(v) for v in grid.get("area_factors", AREA_FACTORS)),
            tuple(float(v) for v in grid.get("confidence", CONFIDENCES)),
            tuple(float(v) for v in grid.get("polarise", POLARISES)),
        )

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready form (stored with the calibration)."""
        return {
            "area_factors": list(self.area_factors),
            "confidence": list(self.confidences),
            "polarise": list(self.polarises),
        }


@dataclass
class FrameTable:
    """The per-frame numbers of the validation frames (see the module docstring)."""

    grid: Grid
    pos_white: list[np.ndarray] = field(default_factory=list)
    pos_max: list[float] = field(default_factory=list)
    pos_dice: list[np.ndarray] = field(default_factory=list)
    pos_counts: list[list] = field(default_factory=list)
    pos_plain: list = field(default_factory=list)
    pos_cleared: list = field(default_factory=list)
    neg_white: list[np.ndarray] = field(default_factory=list)
    neg_max: list[float] = field(default_factory=list)

    def add(self, prob: np.ndarray, truth: np.ndarray) -> None:
        """Reduce one full-size probability map and its bool truth to the frame's numbers."""
        from endobench.metrics.endocv import confusion_counts, mask_dice

        white = np.array([np.count_nonzero(prob > c) / prob.size for c in self.grid.confidences])
        if not truth.any():
            self.neg_white.append(white)
            self.neg_max.append(float(prob.max()))
            return
        self.pos_white.append(white)
        self.pos_max.append(float(prob.max()))
        masks = [prob > p for p in self.grid.polarises]
        self.pos_dice.append(np.array([mask_dice(m, truth) for m in masks]))
        self.pos_counts.append([confusion_counts(truth, m) for m in masks])
        self.pos_plain.append(confusion_counts(truth, prob > 0.5))
        self.pos_cleared.append(confusion_counts(truth, np.zeros_like(truth)))

    @property
    def n_positive(self) -> int:
        """Positive validation frames."""
        return len(self.pos_white)

    @property
    def n_negative(self) -> int:
        """Negative validation frames."""
        return len(self.neg_white)


@dataclass(frozen=True)
class Candidate:
    """One post-processing candidate and what it reaches on the validation frames."""

    reference_area: float
    confidence: float
    polarise: float
    dice: float
    sensitivity: float
    fp_rate: float | None

    @property
    def params(self) -> dict[str, float]:
        """The parameters as the post-processing takes them."""
        return {
            "reference_area": self.reference_area,
            "confidence": self.confidence,
            "polarise": self.polarise,
        }


@dataclass
class TradeOff:
    """Every candidate, the chosen one (None: none within budget), the smallest training polyp
    (``base_area``) and the plain ``> 0.5`` threshold's false-positive frame rate."""

    candidates: list[Candidate]
    chosen: Candidate | None
    base_area: float
    max_fp_rate: float
    n_positive: int
    n_negative: int
    plain_fp_rate: float | None

    def front(self) -> list[Candidate]:
        """The trade-off curve: the best Dice at each false-positive rate (ascending), no candidate
        on it beaten in both Dice and rate by another."""
        if self.n_negative == 0:
            return [self.chosen] if self.chosen else []
        best: dict[float, Candidate] = {}
        for c in self.candidates:
            if c.fp_rate not in best or _rank(c) < _rank(best[c.fp_rate]):
                best[c.fp_rate] = c
        front, top = [], -1.0
        for rate in sorted(best):
            if best[rate].dice > top:
                front.append(best[rate])
                top = best[rate].dice
        return front


def trade_off(frames: FrameTable, base_area: float, max_fp_rate: float) -> TradeOff:
    """Evaluate every candidate and choose the operating point.

    Args:
        frames: The validation frames' numbers.
        base_area: The smallest training polyp as a fraction of its image.
        max_fp_rate: The false-positive frame budget.

    Raises:
        ConfigError: No positive frame, or a budget outside [0, 1].
    """
    if not 0 <= max_fp_rate <= 1:
        raise ConfigError(f"--max-fp-rate {max_fp_rate} must lie in [0, 1] (e.g. 0.05)")
    if frames.n_positive == 0:
        raise ConfigError(
            "no validation frame shows a polyp; calibration needs positive frames (--val-data)"
        )
    grid = frames.grid
    areas = [base_area * f for f in grid.area_factors if base_area * f < 1]
    pol = np.asarray(grid.polarises)
    p_white, p_max = np.stack(frames.pos_white), np.asarray(frames.pos_max)
    p_dice = np.stack(frames.pos_dice)
    cleared = np.array([_dice_of(c) for c in frames.pos_cleared])
    candidates = []
    for area in areas:
        p_case = p_white > area  # frames x confidences
        dice = np.where(p_case[:, :, None], p_dice[:, None, :], cleared[:, None, None]).mean(0)
        called = p_case[:, :, None] & (p_max[:, None, None] > pol[None, None, :])
        sens = called.mean(0)
        fp = _fp_rates(frames, area, pol)
        for ci, conf in enumerate(grid.confidences):
            for pi, polarise in enumerate(grid.polarises):
                rate = None if fp is None else float(fp[ci, pi])
                candidates.append(
                    Candidate(area, conf, polarise, float(dice[ci, pi]), float(sens[ci, pi]), rate)
                )
    allowed = [c for c in candidates if c.fp_rate is None or c.fp_rate <= max_fp_rate]
    chosen = min(allowed, key=_rank) if allowed else None
    plain = float(np.mean(np.asarray(frames.neg_max) > 0.5)) if frames.n_negative else None
    return TradeOff(
        candidates, chosen, base_area, max_fp_rate, frames.n_positive, frames.n_negative, plain
    )


def _fp_rates(frames: FrameTable, area: float, pol: np.ndarray) -> np.ndarray | None:
    if not frames.n_negative:
        return None
    n_white, n_max = np.stack(frames.neg_white), np.asarray(frames.neg_max)
    called = (n_white > area)[:, :, None] & (n_max[:, None, None] > pol[None, None, :])
    return called.mean(0)


def _rank(c: Candidate) -> tuple:
    return (-c.dice, c.fp_rate or 0.0, c.reference_area, c.confidence, c.polarise)


def _dice_of(counts) -> float:
    from endobench.metrics.endocv import dice

    return float(dice(counts))


def positive_metrics(frames: FrameTable, params: dict[str, float] | None) -> dict[str, float]:
    """Mean Dice, Jaccard, PPV and recall over positive frames (EndoCV2021 formulas), for the
    post-processing ``params`` or, with None, the plain ``> 0.5`` threshold."""
    from endobench.metrics.endocv import dice, jaccard, precision, recall

    per_metric = {"dice": dice, "jaccard": jaccard, "ppv": precision, "recall": recall}
    if params is None:
        chosen = frames.pos_plain
    else:
        pi = frames.grid.polarises.index(params["polarise"])
        ci = frames.grid.confidences.index(params["confidence"])
        chosen = [
            counts[pi] if white[ci] > params["reference_area"] else cleared
            for counts, white, cleared in zip(
                frames.pos_counts, frames.pos_white, frames.pos_cleared, strict=True
            )
        ]
    return {key: statistics.fmean(float(fn(c)) for c in chosen) for key, fn in per_metric.items()}


def curve_table(result: TradeOff):
    """A rich table of the trade-off curve, the chosen row marked, the plain threshold last."""
    from rich.table import Table

    table = Table(
        title=f"post-processing trade-off: reference area, mean Dice and sensitivity on "
        f"{result.n_positive} positive frames, false-positive rate on {result.n_negative} "
        f"negative frames (budget {result.max_fp_rate:g})"
    )
    # Short headers keep the table whole on an 80-column terminal; the title names them.
    for header in ("", "area", "confidence", "polarise", "Dice", "sensitivity", "FP rate"):
        table.add_column(header, justify="right")
    for c in result.front():
        mark = "chosen" if c == result.chosen else ""
        table.add_row(
            mark, f"{c.reference_area:.5f}", f"{c.confidence:g}", f"{c.polarise:g}",
            f"{c.dice:.4f}", f"{c.sensitivity:.3f}", fp_rate_text(c.fp_rate),
        )  # fmt: skip
    return table


def fp_rate_text(rate: float | None) -> str:
    """A false-positive frame rate as the tables show it ("n/a" without negative frames)."""
    return "n/a" if rate is None else f"{rate:.3f}"


def plot_trade_off(result: TradeOff, path: str | Path, title: str = "") -> Path:
    """Write the trade-off as a PNG (atomically): every candidate, the curve, budget and choice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from endobench.io import atomic_path

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    rates = [c.fp_rate or 0.0 for c in result.candidates]
    ax.scatter(rates, [c.dice for c in result.candidates], s=8, c="0.7", label="candidates")
    front = result.front()
    ax.plot([c.fp_rate or 0.0 for c in front], [c.dice for c in front], "-o", ms=3,
            color="C0", label="trade-off curve")  # fmt: skip
    ax.axvline(result.max_fp_rate, color="C3", ls="--", lw=1, label="--max-fp-rate")
    if result.chosen is not None:
        c = result.chosen
        ax.scatter([c.fp_rate or 0.0], [c.dice], s=80, marker="*", color="C1", zorder=3,
                   label=f"chosen: area {c.reference_area:.4f}, conf {c.confidence:g}, "
                   f"polarise {c.polarise:g}")  # fmt: skip
    ax.set_xlabel(f"false-positive frame rate ({result.n_negative} negative frames)")
    ax.set_ylabel(f"mean Dice ({result.n_positive} positive frames)")
    ax.set_title(title or "post-processing at an operating point")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return Path(path)


def coarse_budget_note(n_negatives: int, max_fp_rate: float) -> str:
    """A warning when one negative frame is already more than the budget ('' otherwise).

    With fewer than ``1 / max_fp_rate`` frames the budget means "no frame at all", and a clean
    result says little about the rate on other frames.
    """
    if not n_negatives or 1 / n_negatives <= max_fp_rate:
        return ""
    if max_fp_rate <= 0:
        return f"note: a budget of 0 allows no false-positive frame among {n_negatives}"
    needed = math.ceil(1 / max_fp_rate)
    return (
        f"note: one of {n_negatives} negative frames is {1 / n_negatives:.1%}, above the "
        f"{max_fp_rate:g} budget, so the budget allows none; at least {needed} frames "
        "(from sequences the weights never trained on) resolve it"
    )
