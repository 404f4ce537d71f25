"""What ``endobench train`` hands back: one :class:`FoldResult` per trained model, and over folds
the validation Dice mean and std (:class:`TrainResult`)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass
class FoldResult:
    """One trained model (a cross-validation fold, or the only split): folder, best epoch, history
    and, in memory, its last weights."""

    label: str
    fold: int | None
    folder: Path
    epochs_done: int
    best_epoch: int | None
    best_val_dice: float | None
    checkpoint: Path
    history: list[dict[str, Any]]
    seconds: float
    n_train: int
    n_val: int
    final_state: dict[str, torch.Tensor] | None = None


@dataclass
class TrainResult:
    """Every trained model of an invocation and, over folds, the validation Dice mean and std."""

    out: Path
    runs: list[FoldResult]
    val_dice_mean: float | None
    val_dice_std: float | None


def summarise(out: Path, runs: list[FoldResult]) -> TrainResult:
    """Collect the folds' results with the mean and (population) std of their best validation Dice."""
    dices = [r.best_val_dice for r in runs if r.best_val_dice is not None]
    mean = statistics.fmean(dices) if dices else None
    std = statistics.pstdev(dices) if len(dices) > 1 else (0.0 if dices else None)
    return TrainResult(out, runs, mean, std)


def describe(result: TrainResult) -> str:
    """A few lines for the terminal: each run's best epoch and, over folds, mean +- std."""
    lines = []
    for run in result.runs:
        dice = "n/a" if run.best_val_dice is None else f"{run.best_val_dice:.4f}"
        lines.append(
            f"{run.label}: best epoch {run.best_epoch} (validation mean Dice {dice}, {run.n_val} images) "
            f"-> {run.checkpoint}"
        )
    if len(result.runs) > 1 and result.val_dice_mean is not None:
        lines.append(
            f"validation mean Dice over folds: {result.val_dice_mean:.4f} +- {result.val_dice_std:.4f}"
        )
    return "\n".join(lines)
