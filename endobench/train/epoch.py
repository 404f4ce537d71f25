"""One training epoch and one validation pass of a fold, alone or under DDP.

Each batch is trained once per multi-scale side, PraNet's way: the batch is resized bilinearly
(``align_corners=True``, images and masks alike), one optimiser step per side, gradient values
clamped. Validation reports the structure loss at the training size and the mean Dice at
threshold 0.5 with each prediction resized to its mask's full size; both are summed over ranks.
Both take the fold's :class:`~endobench.train.fold_state.FoldState`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

import endobench.train.distributed as D
from endobench.train.augment import augment_batch, batch_generator
from endobench.train.batch_mix import TrainingMix
from endobench.train.batch_mix import epoch_batches as mixed_batches
from endobench.train.display import TrainingDisplay
from endobench.train.fold_state import FoldState
from endobench.train.loss import deep_supervision_loss
from endobench.train.pairs import batch_loader
from endobench.train.recipe import multiscale_sizes
from endobench.train.weak_frames import KindSplit, frame_loss


def to_inputs(images: torch.Tensor, masks: torch.Tensor, state: FoldState):
    """uint8 BxSxSx3 images and BxSxS masks -> normalised float inputs and 0..1 truths on the device."""
    device = state.ctx.device
    x = images.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
    x = (x - state.mean) / state.std
    y = masks.to(device, non_blocking=True).unsqueeze(1).float().div_(255)
    if state.config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def autocast(state: FoldState):
    """bfloat16 autocast on the training device when ``--amp`` (else a no-op context)."""
    return torch.autocast(
        device_type=state.ctx.device.type, dtype=torch.bfloat16, enabled=state.config.amp
    )


def training_mode(state: FoldState) -> None:
    """Put the model in training mode; with ``Recipe.freeze_norm``, its BatchNorm layers stay in
    eval mode (their running statistics are used and kept, their scale and shift still train)."""
    state.net.train()
    if state.recipe.freeze_norm:
        for module in state.net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


def epoch_batches(state: FoldState, n_images: int, epoch: int) -> list[list[int]]:
    """This rank's batches of epoch ``epoch``: an order that depends on ``(seed, epoch)`` only.

    With negatives (``state.mix``), each batch also holds its share of negative images
    (:func:`endobench.train.negative_mix.epoch_batches`); without, the plain recipe's batches.
    """
    ctx = state.ctx
    mix = state.mix or TrainingMix(n_images)
    per_rank = state.recipe.batch_size // ctx.world_size
    return mixed_batches(mix, per_rank, state.config.seed, epoch, ctx.rank, ctx.world_size)


def train_epoch(
    state: FoldState,
    source: Dataset,
    display: TrainingDisplay,
    on_batch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[float, float]:
    """Train epoch ``state.epoch + 1`` once over ``source``.

    A saved partial epoch (``state.resumed_partial()``) skips the batches already trained and
    restores the loss sums and seconds.

    Args:
        state: The fold (model, optimiser, recipe, options, ...); its counters are not changed.
        source: The training pairs (uint8 images and masks at the training size).
        display: Shows a bar over the epoch's batches.
        on_batch: Called after every batch with the started epoch's record (``epoch``,
            ``batches_done``, loss ``total`` and ``count``, ``seconds``), for mid-epoch saving.

    Returns:
        The mean loss at scale 1 over all ranks, the epoch's training seconds (validation
        excluded; an interrupted epoch's earlier seconds included) and the images the whole
        epoch trains over all ranks (each once, whatever the number of scales).
    """
    tic = time.perf_counter()
    epoch = state.epoch + 1
    training_mode(state)
    batches = epoch_batches(state, len(source), epoch)
    resumed = state.resumed_partial()
    skip = resumed["batches_done"] if resumed else 0
    total, count = (resumed["total"], resumed["count"]) if resumed else (0.0, 0)
    before = resumed["seconds"] if resumed else 0.0
    description = f"{state.plan.label} epoch {epoch}/{state.recipe.epochs}"
    loader = batch_loader(source, batches[skip:], state.config.workers)
    with display.batches(description, len(batches), done=skip) as advance:
        for done, (images, masks, *_) in enumerate(loader, skip + 1):
            weak = state.mix is not None and state.mix.has_weak
            kinds = state.mix.kinds(batches[done - 1]) if weak else None
            extra = BatchExtras(kinds, batch_generator(state.config.seed, epoch, done))
            total, count = train_batch(state, images, masks, total, count, extra)
            advance(len(images) * state.ctx.world_size, loss=total / max(count, 1))
            if on_batch is not None:
                seconds = before + time.perf_counter() - tic
                on_batch(
                    {
                        "epoch": epoch,
                        "batches_done": done,
                        "total": total,
                        "count": count,
                        "seconds": seconds,
                    }
                )
    total, count = D.all_sum(state.ctx, [total, count])
    images = sum(len(batch) for batch in batches) * state.ctx.world_size
    return total / max(count, 1), before + time.perf_counter() - tic, images


@dataclass
class BatchExtras:
    """What a training batch needs beside its pixels.

    Attributes:
        kinds: Each image's kind (:mod:`endobench.train.weak_frames`), or None when the run has
            no weak positive (then the published loss applies unchanged).
        generator: The batch's augmentation draws (used when ``Recipe.augment``).
    """

    kinds: list[float] | None = None
    generator: torch.Generator | None = None


def batch_loss(outputs, y: torch.Tensor, split: KindSplit | None, recipe) -> torch.Tensor:
    """The structure loss of the images with a (possibly empty) mask, plus the recipe's
    ``frame_loss`` times the frame-level loss of the weak positives and the negatives.

    Without ``split`` (no weak positive in the run), exactly the published loss.
    """
    if split is None:
        return deep_supervision_loss(outputs, y, bce=recipe.bce)
    loss = y.new_zeros(())
    if split.pixel is None:
        loss = deep_supervision_loss(outputs, y, bce=recipe.bce)
    elif len(split.pixel):
        pixel = split.pixel
        loss = deep_supervision_loss([o[pixel] for o in outputs], y[pixel], bce=recipe.bce)
    if recipe.frame_loss > 0 and len(split.framed):
        framed = [o[split.framed] for o in outputs]
        loss = loss + recipe.frame_loss * frame_loss(framed, split.targets)
    return loss


def train_batch(
    state: FoldState,
    images: torch.Tensor,
    masks: torch.Tensor,
    total: float,
    count: float,
    extras: BatchExtras | None = None,
) -> tuple[float, float]:
    """One optimiser step per multi-scale side; returns the loss sums with this batch's scale-1
    losses added (every side's when no scale is 1)."""
    recipe, config = state.recipe, state.config
    extras = extras or BatchExtras()
    sides = multiscale_sizes(recipe.size, recipe.scales)
    record = [i for i, rate in enumerate(recipe.scales) if rate == 1.0] or list(range(len(sides)))
    base_x, base_y = to_inputs(images, masks, state)
    if recipe.augment and extras.generator is not None:
        base_x, base_y = augment_batch(base_x, base_y, extras.generator)
    split = KindSplit.of(extras.kinds, base_x.device) if extras.kinds is not None else None
    for index, side in enumerate(sides):
        x, y = base_x, base_y
        if side != recipe.size:
            x = F.interpolate(base_x, size=(side, side), mode="bilinear", align_corners=True)
            y = F.interpolate(base_y, size=(side, side), mode="bilinear", align_corners=True)
            if config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        state.optimizer.zero_grad(set_to_none=True)
        with autocast(state):
            outputs = state.net(x)
        loss = batch_loss(outputs, y, split, recipe)
        loss.backward()
        if recipe.clip > 0:
            torch.nn.utils.clip_grad_value_(state.net.parameters(), recipe.clip)
        state.optimizer.step()
        if index in record:
            total += loss.item() * len(images)
            count += len(images)
    return total, count


def rank_batches(state: FoldState, length: int) -> list[list[int]]:
    """This rank's share of ``length`` validation items (every ``world_size``-th from its rank),
    in batches of the recipe's batch size."""
    ctx = state.ctx
    indices = list(range(ctx.rank, length, ctx.world_size))
    size = state.recipe.batch_size
    return [indices[i : i + size] for i in range(0, len(indices), size)]


@torch.no_grad()
def validate(
    state: FoldState, source: Dataset, display: TrainingDisplay
) -> tuple[float, float, float]:
    """Validate the fold's model (rank 0's BatchNorm statistics on every rank).

    Returns:
        The structure loss at the training size, the mean Dice at 0.5 at each mask's full size
        (both over all ranks) and the seconds the pass took.
    """
    tic = time.perf_counter()
    model, ctx = state.model, state.ctx
    model.eval()
    batches = rank_batches(state, len(source))
    loss_sum = dice_sum = count = 0.0
    description = f"{state.plan.label} validation {state.epoch + 1}/{state.recipe.epochs}"
    loader = batch_loader(source, batches, state.config.workers)
    with display.batches(description, len(batches)) as advance:
        for images, masks, originals in loader:
            x, y = to_inputs(images, masks, state)
            with autocast(state):
                outputs = model(x)
            loss_sum += deep_supervision_loss(outputs, y, bce=state.recipe.bce).item() * len(images)
            prob = torch.sigmoid(outputs[-1].float())
            for i, truth in enumerate(originals):
                truth_t = torch.as_tensor(truth, device=ctx.device)
                full = F.interpolate(
                    prob[i : i + 1], size=truth_t.shape, mode="bilinear", align_corners=False
                )[0, 0]
                dice_sum += dice(full > 0.5, truth_t)
            count += len(images)
            advance(len(images) * ctx.world_size)
    loss_sum, dice_sum, count = D.all_sum(ctx, [loss_sum, dice_sum, count])
    training_mode(state)
    return loss_sum / count, dice_sum / count, time.perf_counter() - tic


def dice(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Dice of two bool masks on the device; two empty masks agree perfectly (1.0).

    The torch twin of :func:`endobench.metrics.mask_dice`, kept so validation stays on the
    device; a parity test holds them equal.
    """
    inter = (pred & truth).sum().item()
    total = pred.sum().item() + truth.sum().item()
    return 1.0 if total == 0 else 2.0 * inter / total
