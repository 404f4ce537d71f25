"""Negative-aware training: polyp-free frames and crops of positives, a fixed share of every batch.

Two kinds of negatives train with the structure loss against an all-background target:

- **Real negative frames** (``--negatives DIR``, any image folder; PolypGen's
  ``sequenceData/negativeOnly/<seq>/`` is read by sequence). Frames of one sequence are
  near-duplicates, so they are split between training and validation by sequence, never by frame:
  the validation share is ``--val-fraction`` of the sequences, or one fold of the sequences under
  k-fold cross-validation (the same ``kfold`` as the positives, over sequence names), or
  :data:`EXTERNAL_VAL_SHARE` of them with ``--val-data``. A folder without sequences is one
  sequence; with a single sequence every frame trains.
- **Negative crops of positive training images**, one per image, fixed for the run: a box of the
  image's own aspect ratio whose sides are a random share in [:data:`MIN_CROP_SCALE`, largest
  possible] of the image's sides, placed at random entirely left of, right of, above or below the
  polyp's bounding box dilated by :data:`CROP_MARGIN` of the image's longer side (all polyps of the
  mask in one box). It is resized to the training size like any image. Images where no such box
  fits are skipped. The choice depends only on the seed and the sample id.

Each batch of ``B`` images holds ``round(B * negative_fraction)`` negatives (at least one when the
fraction is positive, at most ``B - 1``), taken alternately from the real frames (with their view
crops) and the crops when both exist; the rest are positives in the usual seeded order, a
``frame_share`` of them framed in a real negative frame (:mod:`endobench.train.frame_context`).
An epoch still passes over every positive once, so it has ``1 / (1 - fraction)`` times as many
images; negatives are drawn from per-epoch seeded permutations and repeat once used up.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from endobench.errors import DataError
from endobench.train.batch_mix import TrainingMix, negatives_per_batch
from endobench.train.frame_context import framed_positives, view_boxes, view_crops
from endobench.train.pairs import Pair

MIN_CROP_SCALE = 0.3
CROP_MARGIN = 0.05
EXTERNAL_VAL_SHARE = 0.25


def resolve_negatives(folders: Sequence[str | Path]) -> tuple[list[Pair], list[str]]:
    """Every frame of the negative folders as a mask-less pair with its sequence.

    Returns:
        The pairs (duplicates by id dropped) and, per folder, ``"NAME: N frames in K sequences"``
        (the folder's own name only: metadata travels with weights, machine paths must not).

    Raises:
        DataError: A folder with no images.
    """
    from endobench.data import open_negatives

    pairs: list[Pair] = []
    seen: set[str] = set()
    described: list[str] = []
    for folder in folders:
        dataset = open_negatives(Path(folder).expanduser())
        new = []
        for sample in dataset.samples:
            if sample.id in seen:
                continue
            seen.add(sample.id)
            sequence = getattr(sample, "sequence", None) or sample.subset or f"{dataset.name}"
            new.append(Pair(sample.id, Path(sample.image), None, sequence=sequence))
        if not new:
            raise DataError(f"{folder}: no negative frames found; give a folder of images")
        pairs.extend(new)
        n_seq = len({p.sequence for p in new})
        described.append(f"{Path(folder).name}: {len(new)} frames in {n_seq} sequences")
    return pairs, described


def split_by_sequence(
    pairs: Sequence[Pair],
    *,
    folds: int = 0,
    fold: int | None = None,
    val_share: float | None = None,
    seed: int = 0,
) -> tuple[list[Pair], list[Pair]]:
    """Split negative frames into (training, validation) by whole sequences.

    Args:
        pairs: Negative pairs with their ``sequence``.
        folds: ``>= 2``: validation is fold ``fold`` of a seeded ``kfold`` over the sequence names
            (with fewer sequences than folds, the folds without one validate on none).
        fold: The fold (with ``folds``).
        val_share: Without folds, hold back this share of the sequences (at least one, never all);
            None or 0 holds back none.
        seed: Seeds the choice.
    """
    sequences = sorted({p.sequence or "" for p in pairs})
    if len(sequences) < 2:
        return list(pairs), []
    if folds >= 2 and fold is not None:
        from endobench.data import kfold

        k = min(folds, len(sequences))
        chosen = set(kfold(sequences, k=k, seed=seed)[fold][1]) if fold < k else set()
    elif val_share:
        order = np.random.default_rng(seed).permutation(len(sequences))
        n_val = min(len(sequences) - 1, max(1, round(val_share * len(sequences))))
        chosen = {sequences[i] for i in order[:n_val].tolist()}
    else:
        chosen = set()
    train = [p for p in pairs if (p.sequence or "") not in chosen]
    val = [p for p in pairs if (p.sequence or "") in chosen]
    return train, val


def choose_crop(
    mask: np.ndarray,
    rng: np.random.Generator,
    min_scale: float = MIN_CROP_SCALE,
    margin: float = CROP_MARGIN,
) -> tuple[int, int, int, int] | None:
    """A box ``(x0, y0, x1, y1)`` of the image that does not touch the dilated polyp box, or None.

    Args:
        mask: H x W bool ground truth of a positive image.
        rng: Draws the side, the scale and the position.
        min_scale: Smallest crop side as a share of the image side.
        margin: The polyp's bounding box grows by this share of the image's longer side.

    Returns:
        The box (end-exclusive), or None when the mask is empty or no crop of ``min_scale`` fits.
    """
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    grow = round(margin * max(height, width))
    bx0, bx1 = max(0, int(xs.min()) - grow), min(width, int(xs.max()) + 1 + grow)
    by0, by1 = max(0, int(ys.min()) - grow), min(height, int(ys.max()) + 1 + grow)
    room = {
        "left": bx0 / width,
        "right": (width - bx1) / width,
        "above": by0 / height,
        "below": (height - by1) / height,
    }
    sides = [side for side, largest in room.items() if largest >= min_scale]
    if not sides:
        return None
    side = sides[int(rng.integers(len(sides)))]
    scale = float(rng.uniform(min_scale, room[side]))
    w, h = max(1, int(scale * width)), max(1, int(scale * height))
    x_lo, x_hi = {"left": (0, bx0 - w), "right": (bx1, width - w)}.get(side, (0, width - w))
    y_lo, y_hi = {"above": (0, by0 - h), "below": (by1, height - h)}.get(side, (0, height - h))
    x0 = int(rng.integers(x_lo, x_hi + 1))
    y0 = int(rng.integers(y_lo, y_hi + 1))
    return x0, y0, x0 + w, y0 + h


def negative_crops(
    pairs: Sequence[Pair], seed: int, advance: Callable[[int], None] | None = None
) -> list[Pair]:
    """One negative crop per positive pair where one fits (see :func:`choose_crop`).

    Each crop's draw is seeded by ``sha256("<seed>:<id>")``, so it depends on nothing else.

    Args:
        pairs: Positive training pairs (their masks are read once).
        seed: The run's seed.
        advance: Progress callback, called with 1 after each mask.
    """
    from endobench.data import read_mask

    crops = []
    for pair in pairs:
        if pair.mask is not None and pair.crop is None:
            digest = hashlib.sha256(f"{seed}:{pair.id}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            box = choose_crop(read_mask(pair.mask, truth=True), rng)
            if box is not None:
                crops.append(Pair(f"{pair.id}#crop", pair.image, None, crop=box))
        if advance is not None:
            advance(1)
    return crops


def crops_wanted(config: Any) -> bool:
    """Whether a run trains on negative crops: ``config.negative_crops``, or by default exactly
    when it has real negatives."""
    return bool(config.negatives) if config.negative_crops is None else config.negative_crops


def split_for_fold(
    pairs: Sequence[Pair], config: Any, k: int, fold: int | None
) -> tuple[list[Pair], list[Pair]]:
    """A fold's (training, validation) negatives, split by sequence like its positives are split.

    ``--val-negatives``: every frame trains (those folders validate); ``--val-data``:
    :data:`EXTERNAL_VAL_SHARE` of the sequences validate; ``--val-fraction F``: F
    of them; k-fold: the fold's part of a ``kfold`` over the sequences; no validation: none.
    """
    if getattr(config, "val_negatives", None):
        return list(pairs), []  # --val-negatives names the validation frames itself
    if config.val_data:
        return split_by_sequence(pairs, val_share=EXTERNAL_VAL_SHARE, seed=config.seed)
    if config.val_fraction:
        return split_by_sequence(pairs, val_share=config.val_fraction, seed=config.seed)
    if k >= 2 and fold is not None:
        return split_by_sequence(pairs, folds=k, fold=fold, seed=config.seed)
    return list(pairs), []


def attach_negatives(
    plan: Any, negatives: Sequence[Pair], described: list[str], config: Any, k: int
):
    """Return the fold plan with its negatives (and record them in its ``data_info``).

    Args:
        plan: A :class:`~endobench.train.fold_plan.FoldPlan`.
        negatives: Every real negative frame of the run.
        described: What :func:`resolve_negatives` said of the folders.
        config: The run's options (``val_data``, ``val_fraction``, ``limit``, ``seed``, ...).
        k: Cross-validation folds (0: none).
    """
    train, val = split_for_fold(negatives, config, k, plan.fold)
    if config.limit:
        train, val = train[: config.limit], val[: config.limit]
    crops = crops_wanted(config)
    if not (train or val or crops):
        return plan
    plan.data_info.update(
        negatives=described,
        negative_train_ids=[p.id for p in train],
        negative_val_ids=[p.id for p in val],
        negative_val_sequences=sorted({p.sequence or "" for p in val}),
        negative_crops=crops,
    )
    return dataclasses.replace(plan, negative_train=train, negative_val=val)


def training_pairs(
    plan: Any,
    seed: int,
    fraction: float,
    advance: Callable[[int], None] | None = None,
    frame_share: float = 0.0,
    weak_fraction: float = 0.0,
) -> tuple[list[Pair], TrainingMix]:
    """A fold's training pairs in the :class:`TrainingMix` layout.

    Args:
        plan: The fold plan (``train_pairs``, ``negative_train``, ``data_info["negative_crops"]``).
        seed: The run's seed (it chooses the crops and the donors).
        fraction: ``Recipe.negative_fraction``.
        advance: Progress callback while the crops are chosen and the frames' views found.
        frame_share: ``Recipe.frame_share``; with real negatives and a positive share, their
            view crops and framed positives join the source.
        weak_fraction: ``Recipe.weak_fraction``; with the plan's ``weak_train`` frames, they
            join the source last.
    """
    positives = list(plan.train_pairs)
    weak = list(getattr(plan, "weak_train", [])) if weak_fraction > 0 else []
    if fraction <= 0:
        mix = TrainingMix(len(positives), n_weak=len(weak), weak_fraction=weak_fraction)
        return [*positives, *weak], mix
    real = list(getattr(plan, "negative_train", []))
    crops = negative_crops(positives, seed, advance) if plan.data_info.get("negative_crops") else []
    views: list[Pair] = []
    framed: list[Pair] = []
    if real and frame_share > 0:
        boxes = view_boxes(real, advance)
        views = view_crops(real, boxes)
        framed = framed_positives(positives, real, boxes, seed)
    mix = TrainingMix(
        len(positives),
        len(real),
        len(crops),
        fraction,
        len(views),
        len(framed),
        frame_share,
        len(weak),
        weak_fraction,
    )
    return [*positives, *real, *views, *crops, *framed, *weak], mix


def describe_mix(plan: Any, mix: TrainingMix, batch_size: int) -> str | None:
    """One line on a fold's negatives, or None without any: ``negatives: 300 frames of 11
    sequences and 980 crops train (2 of every 8 images), 36 frames of 1 sequence validate``."""
    val = list(getattr(plan, "negative_val", []))
    if not mix.has_negatives and not val:
        return None
    parts = []
    if mix.has_negatives:
        real = list(getattr(plan, "negative_train", []))
        n_seq = len({p.sequence for p in real})
        share = negatives_per_batch(batch_size, mix.fraction)
        parts.append(
            f"{mix.n_real} frames of {n_seq} sequences and {mix.n_crops} crops train "
            f"({share} of every {batch_size} images)"
        )
        if mix.n_framed:
            parts.append(
                f"{mix.n_views} frames also as view crops, {mix.frame_share:g} of positives "
                "framed in a negative frame"
            )
    if val:
        parts.append(f"{len(val)} frames of {len({p.sequence for p in val})} sequences validate")
    return "negatives: " + ", ".join(parts)
