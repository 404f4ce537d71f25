"""What one ``endobench train`` invocation is asked to do: :class:`TrainConfig`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from endobench.train.recipe import Recipe


@dataclass
class TrainConfig:
    """Everything one ``endobench train`` invocation needs.

    Attributes:
        model: Registered model name.
        data: Training data set names or folders.
        out: Output folder (one sub-folder per fold when cross-validating).
        val_data: Validation data set names or folders (else held back from ``data``).
        data_root: Where named data sets live.
        skip_problems: Leave out and list the data's pairing problems and unreadable files
            (``--skip-problems``) instead of refusing the data set.
        recipe: Hyper-parameters; None takes the model's published recipe.
        seed: Seeds initialisation, data order and the splits.
        folds: Cross-validation folds (None: the recipe's); ignored when ``val_data`` or
            ``val_fraction`` is given.
        fold: Train only this fold.
        val_fraction: Hold back this share of ``data`` for validation instead of k-fold.
        resume: Continue the runs found in ``out``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        amp: bfloat16 autocast.
        channels_last: Train in channels-last memory format (about 3x faster for brp_lite's
            depthwise convolutions on CPU; also the faster layout on GPU).
        workers: DataLoader worker processes for decoding.
        cache: Keep decoded, resized pairs in memory.
        limit: A smoke test: train on the first N training pairs of a split and validate on at
            most N of its validation pairs; a cross-validation recipe then trains only fold 0
            unless ``folds`` or ``fold`` is given.
        model_kwargs: Extra factory arguments (``pretrained_backbone=True`` is added for training).
        model_factory: Build the model with this callable instead of the registry (tests).
        progress: Show rich progress bars and announcements (rank 0).
        checkpoint_minutes: Also save the resumable state inside an epoch every this many minutes
            (an interrupted epoch then resumes from its last saved batch); 0 saves at epoch ends only.
        init: Start from these weights (an endobench checkpoint or a state dict the model's
            checkpoint filter accepts) instead of the ImageNet initialisation.
        negatives: Folders of polyp-free frames; they train against an all-background target and
            validate (the false-positive frame rate) split by sequence
            (:mod:`endobench.train.negative_mix`).
        negative_crops: Also train on crops of positive images away from the polyp; None: only
            when ``negatives`` are given.
        val_negatives: Folders of polyp-free frames that validate (by sequence); then every
            frame of ``negatives`` trains.
        weak_positives: Folders of frames that show a polyp without a mask; they train at the
            frame level (:mod:`endobench.train.weak_frames`).
        val_positive_frames: Folders of such frames that validate (the share found).
        device_cache: Keep the decoded training pairs on the training device (a GPU) and index
            batches there; None: on when training on CUDA with ``cache``.
    """

    model: str
    data: list[str]
    out: Path
    val_data: list[str] = field(default_factory=list)
    data_root: str | None = None
    skip_problems: bool = False
    recipe: Recipe | None = None
    seed: int = 0
    folds: int | None = None
    fold: int | None = None
    val_fraction: float | None = None
    resume: bool = False
    device: str = "auto"
    amp: bool = False
    channels_last: bool = True
    workers: int = 2
    cache: bool = True
    limit: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    model_factory: Callable[[], torch.nn.Module] | None = None
    progress: bool = True
    checkpoint_minutes: float = 10.0
    init: Path | None = None
    negatives: list[str] = field(default_factory=list)
    negative_crops: bool | None = None
    val_negatives: list[str] = field(default_factory=list)
    weak_positives: list[str] = field(default_factory=list)
    val_positive_frames: list[str] = field(default_factory=list)
    device_cache: bool | None = None

    def with_recipe_validation(self, recipe: Recipe) -> TrainConfig:
        """This config, holding back the recipe's ``val_fraction`` when it names no validation
        of its own (``val_data``, ``val_fraction``, ``folds`` or ``fold``)."""
        chosen = self.val_data or self.val_fraction is not None
        if not recipe.val_fraction or chosen or self.folds is not None or self.fold is not None:
            return self
        return replace(self, val_fraction=recipe.val_fraction)
