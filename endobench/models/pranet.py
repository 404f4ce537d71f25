"""PraNet (Fan et al., MICCAI 2020) and the Res2Net-PD-RA family of Yu, Yan & Li (EndoCV2021).

- ``pranet``: PraNet on timm's ``res2net50d`` (the same network as Res2Net-50 v1b 26w4s, same
  parameter names). The official ``PraNet-19.pth`` loads unchanged through
  :func:`~endobench.models.network.checkpoint_filter_fn`.
- ``brp``: the paper's network -- it is PraNet's (partial decoder over f3-f5, three reverse-attention
  branches, four supervised maps) with the paper's default input of 512.
- ``bp``: backbone + partial decoder (prediction = M_g). ``br``: backbone + reverse attention, the
  deepest branch starting from a map predicted from f5 alone.
- ``brp_post``: ``brp`` with the paper's post-processing (§2.3).

All of ``pranet``, ``brp`` and ``brp_post`` share one architecture, so their checkpoints load into
each other. Backbones are never downloaded: ``backbone_weights=`` takes the official ImageNet file
``res2net50_v1b_26w_4s-3cf99910.pth`` (or a timm ``res2net50d`` state dict).
"""

from __future__ import annotations

import os

from torch import nn

from endobench.errors import WeightsError
from endobench.models.network import (
    ParallelReverseAttentionNet,
    checkpoint_filter_fn,
    head_kwargs_from_state_dict,
    strip_prefix,
)
from endobench.models.postprocess import DEFAULT_POSTPROCESS
from endobench.models.registry import register_model

PRANET_HINT = (
    "use the official PraNet-19.pth (github.com/DengPingFan/PraNet) or train with `endobench train`"
)
_COMMON = dict(filter_fn=checkpoint_filter_fn, infer_kwargs=head_kwargs_from_state_dict)
#: What PraNet's network and the paper's full network (with or without post-processing) share.
_PRA_RES2NET = dict(num_outputs=4, architecture="pra_res2net50", weights_hint=PRANET_HINT)


def res2net_backbone(backbone_weights: str | os.PathLike | None = None) -> nn.Module:
    """Build timm's ``res2net50d`` returning the features of strides 4, 8, 16 and 32.

    Args:
        backbone_weights: Optional ImageNet checkpoint, the official
            ``res2net50_v1b_26w_4s-3cf99910.pth`` or a timm ``res2net50d`` file.

    Raises:
        WeightsError: The file does not fit Res2Net-50 v1b (the message names the keys).
    """
    import timm

    backbone = timm.create_model(
        "res2net50d", pretrained=False, features_only=True, out_indices=(1, 2, 3, 4)
    )
    if backbone_weights is not None:
        load_backbone_weights(backbone, backbone_weights, drop_prefixes=("fc.",))
    return backbone


def load_backbone_weights(
    backbone: nn.Module, path: str | os.PathLike, drop_prefixes: tuple[str, ...] = ()
) -> None:
    """Load a classification checkpoint into a features-only backbone, strictly.

    Args:
        backbone: The features-only backbone.
        path: A plain torch state dict or safetensors file of the classification network.
        drop_prefixes: Keys of the classifier that the features-only backbone does not have.

    Raises:
        WeightsError: Unreadable file, or keys/shapes that do not fit.
    """
    from endobench.models.checkpoint import check_state_dict, load_checkpoint

    state_dict, _ = load_checkpoint(path)
    state_dict = strip_prefix(state_dict)
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(drop_prefixes)}
    check_state_dict(backbone, state_dict, source=str(path))
    backbone.load_state_dict(state_dict, strict=True)


def _res2net_net(pretrained_backbone: bool, backbone_weights, **kwargs) -> nn.Module:
    if pretrained_backbone and backbone_weights is None:
        raise WeightsError(
            "res2net50_v1b_26w_4s-3cf99910.pth: no ImageNet Res2Net weights install offline; "
            "pass that file with `endobench train --backbone-weights FILE` (backbone_weights= "
            "in Python; nothing is downloaded)"
        )
    return ParallelReverseAttentionNet(res2net_backbone(backbone_weights), **kwargs)


def _with_postprocess(model: nn.Module, postprocess: dict | None) -> nn.Module:
    params = dict(DEFAULT_POSTPROCESS)
    params.update(postprocess or {})
    model.endobench_cfg = {"postprocess": params}
    return model


@register_model(
    input_size=352,
    **_PRA_RES2NET,
    description="PraNet (Fan et al. 2020), Res2Net-50 v1b backbone; loads PraNet-19.pth",
    **_COMMON,
)
def pranet(pretrained_backbone: bool = False, backbone_weights=None, **kwargs) -> nn.Module:
    """PraNet at its default input of 352 (accepts the official ``PraNet-19.pth``)."""
    return _res2net_net(pretrained_backbone, backbone_weights, **kwargs)


@register_model(
    input_size=512,
    **_PRA_RES2NET,
    default_weights="brp.safetensors",
    description="Res2Net + parallel partial decoder + reverse attention (Yu et al. 2021)",
    **_COMMON,
)
def brp(pretrained_backbone: bool = False, backbone_weights=None, **kwargs) -> nn.Module:
    """The paper's network: PraNet's, with the paper's default input of 512."""
    return _res2net_net(pretrained_backbone, backbone_weights, **kwargs)


@register_model(
    input_size=512,
    **_PRA_RES2NET,
    postprocess=dict(DEFAULT_POSTPROCESS),
    default_weights="brp.safetensors",
    description="brp + the paper's post-processing (pending cases cleared, polyps polarised)",
    **_COMMON,
)
def brp_post(
    pretrained_backbone: bool = False, backbone_weights=None, postprocess=None, **kwargs
) -> nn.Module:
    """``brp`` with post-processing; ``postprocess`` overrides the default parameters."""
    model = _res2net_net(pretrained_backbone, backbone_weights, **kwargs)
    return _with_postprocess(model, postprocess)


@register_model(
    input_size=512,
    num_outputs=1,
    architecture="p_res2net50",
    default_weights="bp.safetensors",
    description="ablation: Res2Net + partial decoder only (prediction = global map M_g)",
    **_COMMON,
)
def bp(pretrained_backbone: bool = False, backbone_weights=None, **kwargs) -> nn.Module:
    """Backbone + partial decoder; the prediction is the global map."""
    return _res2net_net(pretrained_backbone, backbone_weights, reverse_attention=False, **kwargs)


@register_model(
    input_size=512,
    num_outputs=4,
    architecture="r_res2net50",
    default_weights="br.safetensors",
    description="ablation: Res2Net + reverse attention, no partial decoder (coarse head on f5)",
    **_COMMON,
)
def br(pretrained_backbone: bool = False, backbone_weights=None, **kwargs) -> nn.Module:
    """Backbone + reverse attention; the deepest branch starts from a coarse map of f5."""
    return _res2net_net(pretrained_backbone, backbone_weights, decoder=False, **kwargs)
