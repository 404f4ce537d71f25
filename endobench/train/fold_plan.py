"""Which models an invocation trains, on which images, and the one line that says so.

:func:`plan_training` turns the options into one :class:`FoldPlan` per model to train: a
cross-validation fold, or the only split (held-back share, separate validation data, or none).
``--limit N`` is a smoke test: each split trains on its first N training pairs and validates on
at most N of its validation pairs, and a cross-validation recipe trains fold 0 only unless
``--folds`` or ``--fold`` asks for more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError
from endobench.train.frame_sets import attach_frame_sets, resolve_frame_sets
from endobench.train.negative_mix import attach_negatives, resolve_negatives
from endobench.train.options import TrainConfig
from endobench.train.pairs import Pair, resolve_pairs, split_pairs
from endobench.train.provenance import all_trained_ids
from endobench.train.recipe import Recipe
from endobench.train.start_weights import check_start_split, describe_start


@dataclass(frozen=True)
class FoldPlan:
    """One model to train: its fold, label, output folder, images and what the run records of them.

    Attributes:
        fold: The cross-validation fold (None without cross-validation).
        label: Names the run in bars, history rows and plots (``fold2 352px``).
        folder: Where its history, checkpoint and state go.
        train_pairs: Training pairs; a pair without a mask trains as all background.
        val_pairs: Validation pairs (may be empty).
        data_info: What its checkpoint and identity record of the data (names, descriptions,
            counts, ids, ``init``, negatives, ``trained_ids``).
        negative_train: Real negative frames it trains on (:mod:`endobench.train.negative_mix`).
        negative_val: Real negative frames it validates on (other sequences).
        weak_train: Frames that show a polyp without a mask, trained at the frame level
            (:mod:`endobench.train.weak_frames`).
        weak_val: Such frames it validates on (the share found).
    """

    fold: int | None
    label: str
    folder: Path
    train_pairs: list[Pair]
    val_pairs: list[Pair]
    data_info: dict[str, Any]
    negative_train: list[Pair] = field(default_factory=list)
    negative_val: list[Pair] = field(default_factory=list)
    weak_train: list[Pair] = field(default_factory=list)
    weak_val: list[Pair] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingPlan:
    """Every model an invocation trains, and the one line that announces them.

    Attributes:
        folds: One plan per model, in training order.
        announcement: E.g. ``5-fold cross-validation of 1450 images: each fold trains on 1160 and
            validates on 290``.
        cross_validation: True when the runs are folds (each in its own ``foldK/`` folder, with a
            ``summary.json`` over them).
    """

    folds: list[FoldPlan]
    announcement: str
    cross_validation: bool


def plan_training(
    config: TrainConfig, recipe: Recipe, start: tuple[dict, dict] | None = None
) -> TrainingPlan:
    """Resolve the data and split it as configured.

    Args:
        config: The invocation's options.
        recipe: The resolved recipe (its ``folds`` unless ``config.folds`` says otherwise).
        start: ``(state_dict, metadata)`` of ``config.init``: each fold's validation images are
            checked against them and the run records them.

    Raises:
        ConfigError: Inconsistent options, or validation images the starting weights trained on.
        DataError: Data that cannot be read or paired.
    """
    on_problem = "skip" if config.skip_problems else "error"
    pairs, described = resolve_pairs(config.data, config.data_root, on_problem)
    k = recipe.folds if config.folds is None else config.folds
    if config.val_data:
        if config.fold is not None or config.val_fraction:
            raise ConfigError(
                "--val-data cannot be combined with --fold or --val-fraction; drop one"
            )
        val_pairs, val_described = resolve_pairs(config.val_data, config.data_root, on_problem)
        splits = [(None, pairs, val_pairs)]
        k = 0
    else:
        val_described = []
        k = 0 if config.val_fraction else k
        splits = split_pairs(
            pairs,
            folds=k,
            fold=_limited_fold(config, k),
            val_fraction=config.val_fraction,
            seed=config.seed,
        )
    cross_validation = len(splits) > 1 or splits[0][0] is not None
    negatives, negatives_described = resolve_negatives(config.negatives)
    frames = resolve_frame_sets(config)
    folds = []
    for fold, train_pairs, val_pairs in splits:
        plan = _fold_plan(config, recipe, fold, train_pairs, val_pairs, cross_validation)
        plan = attach_negatives(plan, negatives, negatives_described, config, k)
        plan = attach_frame_sets(plan, frames)
        plan.data_info.update(
            train=described,
            validation=val_described or _held_back(k, fold, config.val_fraction),
        )
        if start is not None:
            negative_val_ids = [p.id for p in plan.negative_val]
            check_start_split(start, config.init, plan.data_info["val_ids"] + negative_val_ids)
            plan.data_info["init"] = describe_start(start)
        plan.data_info["trained_ids"] = all_trained_ids(
            plan.data_info["train_ids"]
            + [p.id for p in plan.negative_train]
            + [p.id for p in plan.weak_train],
            start[1] if start is not None else None,
        )
        folds.append(plan)
    return TrainingPlan(folds, announce(config, k, len(pairs), splits, folds), cross_validation)


def _limited_fold(config: TrainConfig, k: int) -> int | None:
    """The one fold to train: ``--fold``, or fold 0 for a ``--limit`` smoke test of a
    cross-validation recipe (``--folds K`` given explicitly trains every fold)."""
    if config.fold is not None or k < 2:
        return config.fold
    return 0 if config.limit and config.folds is None else None


def _fold_plan(
    config: TrainConfig,
    recipe: Recipe,
    fold: int | None,
    train_pairs: list[Pair],
    val_pairs: list[Pair],
    cross_validation: bool,
) -> FoldPlan:
    if config.limit:
        train_pairs, val_pairs = train_pairs[: config.limit], val_pairs[: config.limit]
    data_info = {
        "names": list(config.data),
        "n_train": len(train_pairs),
        "n_val": len(val_pairs),
        "train_ids": [p.id for p in train_pairs],
        "val_ids": [p.id for p in val_pairs],
        "val_external": bool(config.val_data),
    }
    return FoldPlan(
        fold=fold,
        label=f"fold{fold} {recipe.size}px" if fold is not None else f"{recipe.size}px",
        folder=config.out / f"fold{fold}" if cross_validation else config.out,
        train_pairs=list(train_pairs),
        val_pairs=list(val_pairs),
        data_info=data_info,
    )


def _held_back(folds: int, fold: int | None, val_fraction: float | None) -> list[str]:
    if val_fraction:
        return [f"{val_fraction:g} of the training data held back (seeded)"]
    if folds >= 2:
        return [f"fold {fold} of {folds} (k-fold of the training data, seeded)"]
    return []


def announce(
    config: TrainConfig,
    k: int,
    n_pairs: int,
    splits: list[tuple[int | None, list[Pair], list[Pair]]],
    folds: list[FoldPlan],
) -> str:
    """One line saying what will be trained and validated on how many images.

    Args:
        config: The options (``val_data``, ``val_fraction``, ``limit``, ``folds``).
        k: Cross-validation folds (0: none).
        n_pairs: Pairs in ``--data``.
        splits: The splits before ``--limit``.
        folds: The plans (after ``--limit``).
    """
    n_train = _count(len(f.train_pairs) for f in folds)
    n_val = _count(len(f.val_pairs) for f in folds)
    of_val = _count(len(v) for _, _, v in splits)
    cut = config.limit and any(
        len(f.val_pairs) < len(v) for f, (_, _, v) in zip(folds, splits, strict=True)
    )
    limited = f" (--limit {config.limit}: {n_val} of its {of_val})" if cut else ""
    if k >= 2:
        if len(folds) > 1:
            return (
                f"{k}-fold cross-validation of {n_pairs} images: each fold trains on {n_train} "
                f"and validates on {n_val} images{limited}"
            )
        why = (
            f"; --limit trains fold 0 only, --folds {k} trains every fold"
            if config.limit and config.fold is None
            else ""
        )
        return (
            f"{k}-fold cross-validation, fold {folds[0].fold} only: trains on {n_train} images, "
            f"validates on {n_val}{limited}{why}"
        )
    if config.val_data:
        return (
            f"validation: {n_val} images of {', '.join(config.val_data)}{limited}; "
            f"training on {n_train}"
        )
    if config.val_fraction:
        return (
            f"validation: {n_val} held-back images ({config.val_fraction:g} of {n_pairs}, "
            f"seeded){limited}; training on {n_train}"
        )
    return f"no validation data: training on {n_train} images, keeping the last epoch's weights"


def _count(values) -> str:
    """``180`` or, where folds differ by an image, ``180-181``."""
    values = sorted(set(values))
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"
