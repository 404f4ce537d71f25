"""Inference-only speed-ups: fold batch normalisation into the preceding convolution, channels-last.

:func:`fuse_batchnorm` rewrites a model in place for inference: every known (convolution, batch
norm) pair becomes one convolution with a bias. The pairs are listed per module type (endobench's
``ConvBN``, timm's EfficientNet blocks and stem), so nothing is guessed from registration order.
A fused model computes the same function up to float rounding, cannot be trained further, and its
state dict differs from the checkpoint format: fuse after loading weights, never before saving.
"""

from __future__ import annotations

import torch
from torch import nn

from endobench.models.blocks import ConvBN

#: (convolution attribute, batch-norm attribute) pairs applied in forward order, per class name.
_TIMM_PAIRS = {
    "EfficientNetFeatures": (("conv_stem", "bn1"),),
    "EfficientNet": (("conv_stem", "bn1"), ("conv_head", "bn2")),
    "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
}


@torch.no_grad()
def fold_bn_into_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn`` (in eval mode) into ``conv``'s weight and bias, in place."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    new_bias = (bias - bn.running_mean) * scale + bn.bias
    conv.bias = nn.Parameter(new_bias)


def _activation_after_bn(bn: nn.Module) -> nn.Module:
    """What remains of a batch norm after folding: timm's fused activation, or nothing."""
    act = getattr(bn, "act", None)
    drop = getattr(bn, "drop", None)
    parts = [m for m in (drop, act) if m is not None and not isinstance(m, nn.Identity)]
    if not parts:
        return nn.Identity()
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts)


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every known convolution + batch-norm pair of ``model`` in place; return the model.

    The model is put in eval mode (folding uses the running statistics).
    """
    model.eval()
    for module in list(model.modules()):
        if isinstance(module, ConvBN) and isinstance(module.bn, nn.BatchNorm2d):
            fold_bn_into_conv(module.conv, module.bn)
            module.bn = nn.Identity()
            continue
        for conv_name, bn_name in _TIMM_PAIRS.get(type(module).__name__, ()):
            conv = getattr(module, conv_name, None)
            bn = getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                fold_bn_into_conv(conv, bn)
                setattr(module, bn_name, _activation_after_bn(bn))
    model.endobench_fused = True
    return model


def optimise_for_inference(
    model: nn.Module, fuse: bool = True, channels_last: bool = True
) -> nn.Module:
    """Prepare a model for fast CPU inference: eval mode, folded batch norms, channels-last memory.

    Args:
        model: The model (changed in place).
        fuse: Fold batch norms (see :func:`fuse_batchnorm`).
        channels_last: Store weights channels-last (feed inputs channels-last too).

    Returns:
        The model.
    """
    model.eval()
    if fuse:
        fuse_batchnorm(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
