"""One training epoch and one validation pass, shared by every run (alone or under DDP).

Each batch is trained once per multi-scale side, PraNet's way: the batch is resized bilinearly
(``align_corners=True``, images and masks alike), one optimiser step per side, gradient values
clamped. Validation reports the structure loss at the training size and the mean Dice at
threshold 0.5 with each prediction resized to its mask's full size; both are summed over ranks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from endobench.train import distributed as D
from endobench.train.loss import deep_supervision_loss
from endobench.train.pairs import batch_loader
from endobench.train.recipe import Recipe, multiscale_sizes


def to_inputs(images: torch.Tensor, masks: torch.Tensor, ctx, mean, std, channels_last: bool):
    """uint8 BxSxSx3 images and BxSxS masks -> normalised float inputs and 0..1 truths on the device."""
    x = images.to(ctx.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
    x = (x - mean) / std
    y = masks.to(ctx.device, non_blocking=True).unsqueeze(1).float().div_(255)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def autocast(config, ctx):
    """bfloat16 autocast on the training device when ``config.amp`` (else a no-op context)."""
    return torch.autocast(device_type=ctx.device.type, dtype=torch.bfloat16, enabled=config.amp)


def train_epoch(
    net,
    optimizer,
    source,
    recipe: Recipe,
    config,
    ctx,
    mean,
    std,
    epoch,
    progress,
    label,
    resumed=None,
    on_batch=None,
) -> float:
    """One pass over the training data; returns the mean loss at scale 1 over all ranks.

    ``resumed`` (a saved partial epoch) skips the batches already trained and restores the loss
    sums; ``on_batch(batches_done, total, count)`` runs after every batch (mid-epoch saving).
    """
    net.train()
    sampler = DistributedSampler(
        range(len(source)),
        num_replicas=ctx.world_size,
        rank=ctx.rank,
        shuffle=True,
        seed=config.seed,
    )
    sampler.set_epoch(epoch)
    order = list(sampler)
    per_rank = recipe.batch_size // ctx.world_size
    batches = [order[i : i + per_rank] for i in range(0, len(order), per_rank)]
    sides = multiscale_sizes(recipe.size, recipe.scales)
    record = [i for i, rate in enumerate(recipe.scales) if rate == 1.0] or list(range(len(sides)))
    skip = resumed["batches_done"] if resumed else 0
    total, count = (resumed["total"], resumed["count"]) if resumed else (0.0, 0)
    per_batch_images = per_rank * ctx.world_size
    with progress.epoch(f"{label} epoch {epoch}/{recipe.epochs}", total=len(source)) as advance:
        advance(min(skip * per_batch_images, len(source)))
        for done, (images, masks, *_) in enumerate(
            batch_loader(source, batches[skip:], config.workers), skip + 1
        ):
            base_x, base_y = to_inputs(images, masks, ctx, mean, std, config.channels_last)
            for index, side in enumerate(sides):
                x, y = base_x, base_y
                if side != recipe.size:
                    x = F.interpolate(
                        base_x, size=(side, side), mode="bilinear", align_corners=True
                    )
                    y = F.interpolate(
                        base_y, size=(side, side), mode="bilinear", align_corners=True
                    )
                    if config.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                optimizer.zero_grad(set_to_none=True)
                with autocast(config, ctx):
                    outputs = net(x)
                loss = deep_supervision_loss(outputs, y, bce=recipe.bce)
                loss.backward()
                if recipe.clip > 0:
                    torch.nn.utils.clip_grad_value_(net.parameters(), recipe.clip)
                optimizer.step()
                if index in record:
                    total += loss.item() * len(images)
                    count += len(images)
            advance(len(images) * ctx.world_size, loss=total / max(count, 1))
            if on_batch is not None:
                on_batch(done, total, count)
    total, count = D.all_sum(ctx, [total, count])
    return total / max(count, 1)


@torch.no_grad()
def validate(model, source, recipe: Recipe, config, ctx, mean, std) -> tuple[float, float]:
    """Validation loss at the training size and mean Dice at 0.5 at each mask's full size."""
    model.eval()
    indices = list(range(ctx.rank, len(source), ctx.world_size))
    batches = [
        indices[i : i + recipe.batch_size] for i in range(0, len(indices), recipe.batch_size)
    ]
    loss_sum = dice_sum = count = 0.0
    for images, masks, originals in batch_loader(source, batches, config.workers):
        x, y = to_inputs(images, masks, ctx, mean, std, config.channels_last)
        with autocast(config, ctx):
            outputs = model(x)
        loss_sum += deep_supervision_loss(outputs, y, bce=recipe.bce).item() * len(images)
        prob = torch.sigmoid(outputs[-1].float())
        for i, truth in enumerate(originals):
            truth_t = torch.as_tensor(truth, device=ctx.device)
            full = F.interpolate(
                prob[i : i + 1], size=truth_t.shape, mode="bilinear", align_corners=False
            )[0, 0]
            dice_sum += dice(full > 0.5, truth_t)
        count += len(images)
    loss_sum, dice_sum, count = D.all_sum(ctx, [loss_sum, dice_sum, count])
    model.train()
    return loss_sum / count, dice_sum / count


def dice(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Dice of two bool masks; two empty masks agree perfectly (1.0)."""
    inter = (pred & truth).sum().item()
    total = pred.sum().item() + truth.sum().item()
    return 1.0 if total == 0 else 2.0 * inter / total
