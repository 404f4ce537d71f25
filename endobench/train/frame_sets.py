"""A run's mask-less frame sets: weak positives that train, and the frames that validate at the
frame level (polyp frames found, polyp-free frames called polyp).

``--weak-positives DIR`` trains frames that show a polyp without a mask
(:mod:`endobench.train.weak_frames`); ``--val-positive-frames DIR`` validates such frames (the share
found, ``val_found_rate``) and ``--val-negatives DIR`` names the polyp-free frames that validate
(``val_fp_rate``), by sequence, instead of holding back a share of ``--negatives``. Validation
frames must be disjoint from training frames: the same image file in both is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from endobench.errors import ConfigError
from endobench.train.pairs import Pair


@dataclass
class FrameSets:
    """The resolved mask-less frame sets of a run (the same for every fold).

    Attributes:
        weak_train: Polyp frames that train at the frame level.
        weak_val: Polyp frames that validate (share found).
        negative_val: Polyp-free frames that validate (share called polyp), or empty when they
            are held back from ``--negatives``.
        described: What each folder holds, for the checkpoint's record.
    """

    weak_train: list[Pair] = field(default_factory=list)
    weak_val: list[Pair] = field(default_factory=list)
    negative_val: list[Pair] = field(default_factory=list)
    described: dict[str, list[str]] = field(default_factory=dict)


def resolve_frame_sets(config: Any) -> FrameSets:
    """Read the folders of ``--weak-positives``, ``--val-positive-frames`` and ``--val-negatives``.

    Raises:
        DataError: A folder without images.
        ConfigError: An image file both trains and validates.
    """
    from endobench.train.negative_mix import resolve_negatives
    from endobench.train.weak_frames import resolve_weak_frames

    sets = FrameSets()
    if getattr(config, "weak_positives", None):
        sets.weak_train, sets.described["weak_positives"] = resolve_weak_frames(
            config.weak_positives
        )
    if getattr(config, "val_positive_frames", None):
        sets.weak_val, sets.described["val_positive_frames"] = resolve_weak_frames(
            config.val_positive_frames
        )
    if getattr(config, "val_negatives", None):
        sets.negative_val, sets.described["val_negatives"] = resolve_negatives(config.val_negatives)
    _refuse_overlap(sets.weak_train, sets.weak_val, "--weak-positives", "--val-positive-frames")
    return sets


def _refuse_overlap(train: list[Pair], val: list[Pair], train_flag: str, val_flag: str) -> None:
    files = {p.image.resolve() for p in train}
    for pair in val:
        if pair.image.resolve() in files:
            raise ConfigError(
                f"{pair.image}: in both {train_flag} and {val_flag}; validate on frames that "
                "never train"
            )


def attach_frame_sets(plan: Any, sets: FrameSets) -> Any:
    """Return the fold plan with the run's frame sets (recorded in its ``data_info``)."""
    if not (sets.weak_train or sets.weak_val or sets.negative_val):
        return plan
    negative_val = sets.negative_val or plan.negative_val
    _refuse_overlap(plan.negative_train, negative_val, "--negatives", "--val-negatives")
    plan.data_info.update(
        weak_train_ids=[p.id for p in sets.weak_train],
        weak_val_ids=[p.id for p in sets.weak_val],
        frame_sets=sets.described,
    )
    if sets.negative_val:
        plan.data_info.update(
            negative_val_ids=[p.id for p in negative_val],
            negative_val_sequences=sorted({p.sequence or "" for p in negative_val}),
        )
    return dataclasses.replace(
        plan, weak_train=sets.weak_train, weak_val=sets.weak_val, negative_val=negative_val
    )
