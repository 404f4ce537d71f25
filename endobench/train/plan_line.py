"""What ``endobench train`` is about to do, said before it starts: the recipe's side, scales,
folds, epochs and batch, and a time estimate measured on this machine.

The estimate times one training step (forward, structure loss, backward) of a throwaway,
randomly initialised copy of the model (no weights file is read) at every training side, on two
random images, after one untimed step at that side (the first step at a new side sets up its
kernels, several times slower); the real run's weights, optimiser and random generators are not
touched. An epoch is estimated as its training images times the step seconds per image summed
over the sides, plus its validation images at a third of a step at the training side (a forward
pass). It is rough: a larger batch is faster per image, and other jobs on the machine slow a run
down.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch

from endobench.train.fold_plan import TrainingPlan
from endobench.train.options import TrainConfig
from endobench.train.recipe import Recipe, multiscale_sizes
from endobench.wording import counted

_TIMED_IMAGES = 2


def step_seconds(config: TrainConfig, recipe: Recipe, device: torch.device) -> dict[int, float]:
    """Seconds per image of one training step at each training side, measured now.

    Args:
        config: The run's options (model, channels-last).
        recipe: Its recipe (side and scales).
        device: Where the run trains.

    Returns:
        ``{side: seconds per image}``.
    """
    from endobench.train.fold_state import build_model
    from endobench.train.loss import deep_supervision_loss

    # Random initial weights time the same as trained ones: no weights file is read for this.
    kwargs = {k: v for k, v in config.model_kwargs.items() if k != "backbone_weights"}
    untrained = replace(config, model_kwargs={**kwargs, "pretrained_backbone": False})
    model = build_model(untrained).to(device).train()
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sides = multiscale_sizes(recipe.size, recipe.scales)
    seconds: dict[int, float] = {}
    generator = torch.Generator().manual_seed(0)
    for side in sorted(set(sides)):
        images = torch.rand(_TIMED_IMAGES, 3, side, side, generator=generator).to(device)
        truth = (torch.rand(_TIMED_IMAGES, 1, side, side, generator=generator) > 0.5).to(device)
        for _ in range(2):  # the first step at a new side sets up its kernels: the second counts
            start = time.perf_counter()
            deep_supervision_loss(model(images), truth, bce=recipe.bce).backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds[side] = (time.perf_counter() - start) / _TIMED_IMAGES
            model.zero_grad(set_to_none=True)
    return seconds


def plan_line(
    config: TrainConfig, recipe: Recipe, plan: TrainingPlan, seconds: dict[int, float] | None
) -> str:
    """One line: model, side, scales, folds, epochs, batch, learning rate and the estimate.

    Args:
        config: The run's options.
        recipe: The resolved recipe.
        plan: The planned models (folds) and their images.
        seconds: :func:`step_seconds`, or None for no estimate.
    """
    sides = "/".join(str(side) for side in multiscale_sizes(recipe.size, recipe.scales))
    n_models = len(plan.folds)
    folds = f"{counted(n_models, 'fold')} trained" if plan.cross_validation else "no folds"
    line = (
        f"plan: {config.model} at {recipe.size} px (scales {sides} px), {folds}, "
        f"{counted(recipe.epochs, 'epoch', 'epochs')}, batch {recipe.batch_size}, lr {recipe.lr:g}; recipe: "
        f"{recipe.source}"
    )
    if seconds:
        total = sum(_epoch_seconds(fold, recipe, seconds) for fold in plan.folds)
        line += f"; estimated {_duration(total * recipe.epochs)} on this machine"
    return line


def _epoch_seconds(fold, recipe: Recipe, seconds: dict[int, float]) -> float:
    negatives = bool(fold.negative_train) or bool(fold.data_info.get("negative_crops"))
    share = 1 / (1 - recipe.negative_fraction) if negatives else 1.0
    sides = multiscale_sizes(recipe.size, recipe.scales)
    train = len(fold.train_pairs) * share * sum(seconds[side] for side in sides)
    at_size = seconds.get(recipe.size, max(seconds.values()))
    validate = (len(fold.val_pairs) + len(fold.negative_val)) * at_size / 3
    return train + validate


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
