"""Augmentation on the training device: flips, right-angle rotations and colour, per image.

Neither paper augments (PraNet trains on resized images only), so :attr:`Recipe.augment
<endobench.train.recipe.Recipe.augment>` is off in the published recipes. When it is on, every
image of a batch independently gets a horizontal flip, a vertical flip and a rotation by a
multiple of 90 degrees (each with its mask; the training inputs are square), and a brightness
and contrast change of at most :data:`BRIGHTNESS` and :data:`CONTRAST` of the normalised input
(its mask unchanged). Colonoscopy has no canonical orientation, so flips and rotations change
no label, and the colour change stands in for other endoscopes' light and white balance.

The draws come from a generator seeded by ``(seed, epoch, batch)`` on the CPU, so a resumed run
augments exactly as an uninterrupted one, and the same batch gets the same change on any device.
The work happens on the batch where it already is (the GPU when training there): no decoding
process is involved.
"""

from __future__ import annotations

import torch

BRIGHTNESS = 0.2
CONTRAST = 0.2


def batch_generator(seed: int, epoch: int, batch: int) -> torch.Generator:
    """A CPU generator seeded by the run's seed, the epoch and the batch's position in it."""
    generator = torch.Generator()
    generator.manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + batch)
    return generator


def augment_batch(
    x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip, rotate and recolour each image of a batch (and flip and rotate its mask).

    Args:
        x: Bx3xSxS normalised inputs (square).
        y: Bx1xSxS truths.
        generator: The batch's CPU generator (:func:`batch_generator`).

    Returns:
        The augmented ``(x, y)``, in ``x``'s memory format.
    """
    n = x.shape[0]
    draws = torch.rand((n, 4), generator=generator)
    turns = torch.randint(0, 4, (n,), generator=generator)
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and n > 1
    pair = torch.cat([x, y.to(x.dtype)], dim=1)
    hflip = (draws[:, 0] < 0.5).to(x.device).view(n, 1, 1, 1)
    pair = torch.where(hflip, pair.flip(3), pair)
    vflip = (draws[:, 1] < 0.5).to(x.device).view(n, 1, 1, 1)
    pair = torch.where(vflip, pair.flip(2), pair)
    rotated = pair.clone()
    for k in (1, 2, 3):
        chosen = (turns == k).nonzero().flatten().tolist()
        if chosen:
            rotated[chosen] = torch.rot90(pair[chosen], k, dims=(2, 3))
    x, y = rotated[:, :3], rotated[:, 3:].to(y.dtype)
    brightness = ((draws[:, 2] * 2 - 1) * BRIGHTNESS).to(x.device, x.dtype).view(n, 1, 1, 1)
    contrast = (1 + (draws[:, 3] * 2 - 1) * CONTRAST).to(x.device, x.dtype).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean + brightness
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.contiguous()
