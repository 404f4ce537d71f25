"""PraNet's structure loss: weighted binary cross-entropy plus weighted IoU, over every side output.

Pixels near the polyp boundary weigh more: ``w = 1 + 5 * |avgpool31(G) - G|`` (a 31 x 31 box
filter, stride 1, padding 15, so the weight map has the truth's size). Per image,

- weighted BCE = sum(w * bce(logit, G)) / sum(w)
- weighted IoU = 1 - (sum(w * p * G) + 1) / (sum(w * (p + G)) - sum(w * p * G) + 1), p = sigmoid(logit)

and the loss is the batch mean of their sum. The deep-supervision loss adds this over every logit
map the model returns, each bilinearly resized to the truth's size first.

The official ``MyTrain.py`` passes ``reduce='none'`` to ``binary_cross_entropy_with_logits``; that
legacy argument is read as a truthy ``reduce`` and yields the *unweighted mean* BCE over the whole
batch, so the weights apply to the IoU term only there. ``bce="weighted"`` (the default) follows the
paper and the issue; ``bce="pranet_code"`` reproduces what the released code computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from endobench.errors import ConfigError

BCE_MODES = ("weighted", "pranet_code")


def boundary_weights(
    truth: torch.Tensor, kernel_size: int = 31, factor: float = 5.0
) -> torch.Tensor:
    """Return the pixel weights ``1 + factor * |avgpool(G) - G|`` (same shape as ``truth``).

    Args:
        truth: Bx1xHxW ground truth in [0, 1] (soft values from resizing are allowed).
        kernel_size: Side of the box filter (odd); padding keeps the size.
        factor: How much more a pixel whose neighbourhood disagrees with it weighs.
    """
    # A k x k box mean with zero padding equals a k x 1 pass then a 1 x k pass (both divide by k,
    # padded zeros included), at 2k instead of k^2 operations per pixel.
    pad = kernel_size // 2
    pooled = F.avg_pool2d(truth, kernel_size=(kernel_size, 1), stride=1, padding=(pad, 0))
    pooled = F.avg_pool2d(pooled, kernel_size=(1, kernel_size), stride=1, padding=(0, pad))
    return 1.0 + factor * torch.abs(pooled - truth)


def structure_loss(
    logits: torch.Tensor,
    truth: torch.Tensor,
    bce: str = "weighted",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """PraNet's structure loss for one logit map, averaged over the batch.

    Args:
        logits: Bx1xHxW raw scores, the same size as ``truth``.
        truth: Bx1xHxW ground truth in [0, 1].
        bce: ``"weighted"`` (paper) or ``"pranet_code"`` (the released code's unweighted mean BCE).
        weights: Precomputed :func:`boundary_weights` of ``truth`` (they depend on the truth only).

    Returns:
        A scalar tensor.
    """
    if bce not in BCE_MODES:
        raise ConfigError(f"unknown BCE mode {bce!r}; use one of {', '.join(BCE_MODES)}")
    truth = truth.to(logits.dtype)
    if weights is None:
        weights = boundary_weights(truth)
    if bce == "weighted":
        pixel_bce = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")
        wbce = (weights * pixel_bce).sum(dim=(2, 3)) / weights.sum(dim=(2, 3))
    else:
        wbce = F.binary_cross_entropy_with_logits(logits, truth, reduction="mean")
    prob = torch.sigmoid(logits)
    inter = (weights * prob * truth).sum(dim=(2, 3))
    union = (weights * (prob + truth)).sum(dim=(2, 3))
    wiou = 1.0 - (inter + 1.0) / (union - inter + 1.0)
    return (wbce + wiou).mean()


def deep_supervision_loss(
    outputs: Sequence[torch.Tensor] | torch.Tensor, truth: torch.Tensor, bce: str = "weighted"
) -> torch.Tensor:
    """Sum of :func:`structure_loss` over every side output, each resized to the truth's size.

    Args:
        outputs: The model's list of Bx1xhxw logit maps (or a single tensor).
        truth: Bx1xHxW ground truth in [0, 1].
        bce: See :func:`structure_loss`.
    """
    if isinstance(outputs, torch.Tensor):
        outputs = [outputs]
    truth = truth.float()
    weights = boundary_weights(truth)
    total = truth.new_zeros(())
    for logits in outputs:
        if logits.shape[-2:] != truth.shape[-2:]:
            logits = F.interpolate(
                logits, size=truth.shape[-2:], mode="bilinear", align_corners=False
            )
        total = total + structure_loss(logits.float(), truth, bce=bce, weights=weights)
    return total
