"""Frame-level validation of a fold: the share of frames the model calls positive.

On polyp-free frames that share is the false-positive frame rate; on frames that show a polyp
(without a mask) it is the share found. A frame is called positive, as the detection figures of ``endobench run`` call it, when its mask
(probability > 0.5 at the frame's full size) has any foreground pixel. The maximum of a bilinearly
enlarged map never exceeds the maximum of the map, so only frames whose training-size map exceeds
0.5 somewhere are enlarged to their full size (read from the file header) to decide.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

import endobench.train.distributed as D
from endobench.train.display import TrainingDisplay
from endobench.train.epoch import autocast, rank_batches, to_inputs, training_mode
from endobench.train.fold_state import FoldState
from endobench.train.pairs import Pair, batch_loader


@torch.no_grad()
def frame_call_rate(
    state: FoldState,
    source: Dataset,
    pairs: list[Pair],
    display: TrainingDisplay,
    what: str = "negatives",
) -> tuple[float, float]:
    """Run the fold's model over mask-less validation frames (sharded over ranks).

    Args:
        state: The fold.
        source: ``pairs`` at the training size (cached or decoded on access).
        pairs: The frames, for their full sizes.
        display: Shows a bar over the batches.
        what: Names the frames on the bar.

    Returns:
        The share of frames called positive over all ranks, and the seconds the pass took.
    """
    from endobench.data import image_size, read_image

    tic = time.perf_counter()
    model, ctx = state.model, state.ctx
    model.eval()
    batches = rank_batches(state, len(source))
    called = count = 0.0
    description = f"{state.plan.label} {what} {state.epoch + 1}/{state.recipe.epochs}"
    with display.batches(description, len(batches)) as advance:
        for batch, (images, masks, *_) in zip(
            batches, batch_loader(source, batches, state.config.workers), strict=True
        ):
            x, _ = to_inputs(images, masks, state)
            with autocast(state):
                prob = torch.sigmoid(model(x)[-1].float())
            for i, index in enumerate(batch):
                if prob[i].max() <= 0.5:
                    continue
                full = image_size(pairs[index].image) or read_image(pairs[index].image).shape[:2]
                enlarged = F.interpolate(
                    prob[i : i + 1], size=tuple(full), mode="bilinear", align_corners=False
                )
                called += bool((enlarged > 0.5).any())
            count += len(batch)
            advance(len(batch) * ctx.world_size)
    called, count = D.all_sum(ctx, [called, count])
    training_mode(state)
    return called / max(count, 1), time.perf_counter() - tic
