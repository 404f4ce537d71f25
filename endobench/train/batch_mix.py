"""How a training source is laid out and how an epoch's batches take from each part.

The source of a fold is one index space: positives with masks first, then real negative frames,
their view crops, negative crops of positives, positives framed in negative frames, and last the
frames that show a polyp without a mask (:mod:`endobench.train.weak_frames`). Each batch of ``B``
images holds ``round(B * negative_fraction)`` negatives and ``round(B * weak_fraction)`` weak
positives (each at least one when its share is positive and it has images); the rest are
positives in the recipe's seeded order, so an epoch still passes over every positive once.
Negatives and weak positives are drawn from per-epoch seeded permutations and repeat once used
up: the batches of epoch ``e`` depend on ``(seed, e, rank)`` only, and ``--resume`` stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import DistributedSampler

from endobench.errors import ConfigError
from endobench.train.frame_context import framed_order


@dataclass(frozen=True)
class TrainingMix:
    """How a run's training source is laid out: positives, real negatives, their view crops,
    negative crops, framed positives.

    Attributes:
        n_positive: Positive pairs (indices ``0 .. n_positive - 1``).
        n_real: Real negative frames (the next indices).
        n_crops: Negative crops of positives (after the view crops).
        fraction: The share of each batch that is negatives (``Recipe.negative_fraction``).
        n_views: Real negative frames cropped to their view (right after the real frames).
        n_framed: Framed positives (after the crops; ``n_positive`` of them, or none).
        frame_share: The share of positive slots that take the framed version.
        n_weak: Frames that show a polyp without a mask (the last indices,
            :mod:`endobench.train.weak_frames`).
        weak_fraction: The share of each batch that is weak positives.
    """

    n_positive: int
    n_real: int = 0
    n_crops: int = 0
    fraction: float = 0.0
    n_views: int = 0
    n_framed: int = 0
    frame_share: float = 0.0
    n_weak: int = 0
    weak_fraction: float = 0.0

    @property
    def framed_start(self) -> int:
        """Index of the first framed positive."""
        return self.n_positive + self.n_real + self.n_views + self.n_crops

    @property
    def weak_start(self) -> int:
        """Index of the first weak positive."""
        return self.framed_start + self.n_framed

    @property
    def has_weak(self) -> bool:
        """Whether batches hold weak positives."""
        return self.weak_fraction > 0 and self.n_weak > 0

    def kinds(self, indices: Sequence[int]) -> list[float]:
        """Each index's kind for the loss (:data:`endobench.train.weak_frames.MASKED`,
        ``NEGATIVE`` or ``WEAK``)."""
        from endobench.train.weak_frames import MASKED, NEGATIVE, WEAK

        def kind(i: int) -> float:
            if i >= self.weak_start:
                return WEAK
            if self.n_positive <= i < self.framed_start:
                return NEGATIVE
            return MASKED

        return [kind(i) for i in indices]

    @property
    def has_negatives(self) -> bool:
        """Whether batches hold negatives at all."""
        return self.fraction > 0 and self.n_real + self.n_crops > 0


def negatives_per_batch(batch: int, fraction: float) -> int:
    """``round(batch * fraction)``, at least one when ``fraction > 0``, at most ``batch - 1``.

    Raises:
        ConfigError: A positive fraction with a batch of one image (no room for both).
    """
    if fraction <= 0:
        return 0
    if batch < 2:
        raise ConfigError(
            f"--negative-fraction {fraction:g} needs at least 2 images per batch and process; "
            "raise --batch-size"
        )
    return min(batch - 1, max(1, round(batch * fraction)))


def epoch_batches(
    mix: TrainingMix, per_rank: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1
) -> list[list[int]]:
    """This rank's index batches for one epoch; they depend on ``(seed, epoch, rank)`` only.

    Positives come in the order of a seeded ``DistributedSampler`` set to the epoch (without
    negatives, exactly the batches of the plain recipe); each batch then gets its negatives.
    """
    sampler = DistributedSampler(
        range(mix.n_positive), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    order = list(sampler)
    if mix.n_framed and mix.frame_share > 0:
        order = framed_order(order, mix.framed_start, mix.frame_share, (seed, epoch, rank, 2))
    n_neg = negatives_per_batch(per_rank, mix.fraction) if mix.has_negatives else 0
    n_weak = negatives_per_batch(per_rank, mix.weak_fraction) if mix.has_weak else 0
    step = per_rank - n_neg - n_weak
    if step < 1:
        raise ConfigError(
            f"--negative-fraction {mix.fraction:g} and --weak-fraction {mix.weak_fraction:g} "
            f"leave no positive in a batch of {per_rank}; lower them or raise --batch-size"
        )
    batches = [order[i : i + step] for i in range(0, len(order), step)]
    if n_weak:
        weak = _stream(mix.weak_start, mix.n_weak, (seed, epoch, rank, 3))
        for batch in batches:
            batch.extend(next(weak) for _ in range(n_weak))
    if not n_neg:
        return batches
    streams = [
        _stream(start, count, (seed, epoch, rank, kind))
        for kind, (start, count) in enumerate(
            [
                (mix.n_positive, mix.n_real + mix.n_views),
                (mix.n_positive + mix.n_real + mix.n_views, mix.n_crops),
            ]
        )
        if count
    ]
    slot = 0
    for batch in batches:
        for _ in range(n_neg):
            batch.append(next(streams[slot % len(streams)]))
            slot += 1
    return batches


def _stream(start: int, count: int, key: tuple[int, ...]):
    """Indices ``start .. start + count - 1`` in seeded permutations, one after another, forever."""
    rng = np.random.default_rng(list(key))
    while True:
        for index in rng.permutation(count).tolist():
            yield start + index
