"""The parallel partial-decoder + reverse-attention network shared by ``pranet``, ``brp*``, ``bp``,
``br`` and ``brp_lite*``, and the ``checkpoint_filter_fn`` that maps official checkpoints onto it.

Given backbone features f3, f4, f5 (strides s, 2s, 4s: 8, 16, 32 for the built-in backbones; the
channel counts and strides come from the timm backbone's ``feature_info``):

- the partial decoder reduces them (receptive-field blocks) and aggregates them into the global map
  M_g at stride 8 (``decoder=True``), or a small head predicts a coarse map from f5 alone
  (``decoder=False``, the ``br`` ablation);
- three reverse-attention branches refine it shallow-forward, M_g -> M5 -> M4 -> M3
  (``reverse_attention=True``; without them the model is the ``bp`` ablation).

``forward`` returns the logit maps at input resolution in PraNet's order: the first map, then each
reverse-attention output from deep to shallow; the last is the prediction. Resizes use fixed scale
factors (the strides), so input sides must be multiples of the deepest stride
(:attr:`ParallelReverseAttentionNet.output_stride`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from endobench.errors import ConfigError
from endobench.models.blocks import (
    CoarseHead,
    ConvBN,
    PartialDecoder,
    ReceptiveFieldBlock,
    reverse_attention,
    upsample,
)

OFFICIAL_BACKBONE_PREFIX = "resnet."


class ParallelReverseAttentionNet(nn.Module):
    """PraNet's head on any timm features-only backbone (its last three features, strides s, 2s, 4s).

    Submodule names follow the official PraNet code (``rfb2_1``, ``agg1``, ``ra4_conv1`` ...) so that
    official checkpoints load with only the backbone prefix renamed.

    Args:
        backbone: timm ``features_only`` module returning a list of features; the last three are
            used. Their channel counts and strides are read from its ``feature_info``.
        channels: Channels of the reduced features in the partial decoder (32 in PraNet).
        decoder: Build the partial decoder (else a coarse head on f5 starts the refinement).
        reverse_attention: Build the three reverse-attention branches.
        ra_channels: Widths of the reverse-attention branches on (f5, f4, f3); PraNet: 256, 64, 64.
    """

    def __init__(
        self,
        backbone: nn.Module,
        channels: int = 32,
        decoder: bool = True,
        reverse_attention: bool = True,
        ra_channels: tuple[int, int, int] = (256, 64, 64),
    ):
        super().__init__()
        if not (decoder or reverse_attention):
            raise ConfigError("the network needs the partial decoder, reverse attention, or both")
        c3, c4, c5 = backbone_channels(backbone)
        self.strides = backbone_strides(backbone)
        self.backbone = backbone
        self.has_decoder = decoder
        self.has_reverse_attention = reverse_attention
        if decoder:
            self.rfb2_1 = ReceptiveFieldBlock(c3, channels)
            self.rfb3_1 = ReceptiveFieldBlock(c4, channels)
            self.rfb4_1 = ReceptiveFieldBlock(c5, channels)
            self.agg1 = PartialDecoder(channels)
        else:
            self.head5 = CoarseHead(c5)
        if reverse_attention:
            w5, w4, w3 = ra_channels
            self.ra4_conv1 = ConvBN(c5, w5, 1)
            self.ra4_conv2 = ConvBN(w5, w5, 5, padding=2)
            self.ra4_conv3 = ConvBN(w5, w5, 5, padding=2)
            self.ra4_conv4 = ConvBN(w5, w5, 5, padding=2)
            self.ra4_conv5 = ConvBN(w5, 1, 1)
            self.ra3_conv1 = ConvBN(c4, w4, 1)
            self.ra3_conv2 = ConvBN(w4, w4, 3, padding=1)
            self.ra3_conv3 = ConvBN(w4, w4, 3, padding=1)
            self.ra3_conv4 = ConvBN(w4, 1, 3, padding=1)
            self.ra2_conv1 = ConvBN(c3, w3, 1)
            self.ra2_conv2 = ConvBN(w3, w3, 3, padding=1)
            self.ra2_conv3 = ConvBN(w3, w3, 3, padding=1)
            self.ra2_conv4 = ConvBN(w3, 1, 3, padding=1)

    @property
    def output_stride(self) -> int:
        """The deepest feature's stride: input sides must be multiples of it."""
        return self.strides[-1]

    @property
    def num_outputs(self) -> int:
        """How many logit maps ``forward`` returns."""
        return 4 if self.has_reverse_attention else 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the logit maps (B x 1 x H x W each), the prediction last."""
        height, width = x.shape[-2:]
        s3, s4, s5 = self.strides
        if height % s5 or width % s5:
            raise ConfigError(
                f"input of {height}x{width} pixels: both sides must be multiples of {s5} "
                "(resize images to the model's input size first)"
            )
        f3, f4, f5 = self.backbone(x)[-3:]
        if self.has_decoder:
            global_map = self.agg1(self.rfb4_1(f5), self.rfb3_1(f4), self.rfb2_1(f3))
            maps = [upsample(global_map, s3)]
            prior = upsample(global_map, s3 / s5)
        else:
            prior = self.head5(f5)
            maps = [upsample(prior, s5)]
        if not self.has_reverse_attention:
            return maps

        map5 = self._refine("ra4", 5, prior, f5)
        maps.append(upsample(map5, s5))
        map4 = self._refine("ra3", 4, upsample(map5, s5 // s4), f4)
        maps.append(upsample(map4, s4))
        map3 = self._refine("ra2", 4, upsample(map4, s4 // s3), f3)
        maps.append(upsample(map3, s3))
        return maps

    def _refine(self, branch: str, convs: int, prior: torch.Tensor, feature: torch.Tensor):
        """One reverse-attention branch (PraNet's ``ra*_conv1..N``): the first convolution on the
        reverse-attended feature, ReLU after the middle ones, the last's output added to the prior."""
        r = getattr(self, f"{branch}_conv1")(reverse_attention(prior, feature))
        for index in range(2, convs):
            r = F.relu(getattr(self, f"{branch}_conv{index}")(r))
        return getattr(self, f"{branch}_conv{convs}")(r) + prior


def backbone_channels(backbone: nn.Module) -> tuple[int, int, int]:
    """Return the channel counts of a timm features-only backbone's last three features.

    Raises:
        ConfigError: The backbone has no timm ``feature_info`` or fewer than three features.
    """
    return tuple(_feature_info(backbone).channels()[-3:])


def backbone_strides(backbone: nn.Module) -> tuple[int, int, int]:
    """Return the strides of a timm features-only backbone's last three features (s, 2s, 4s).

    Raises:
        ConfigError: No timm ``feature_info``, or strides that do not double from one to the next
            (the partial decoder and reverse attention resize by 2 between them).
    """
    strides = tuple(int(r) for r in _feature_info(backbone).reduction()[-3:])
    if strides[1] != 2 * strides[0] or strides[2] != 2 * strides[1]:
        raise ConfigError(
            f"backbone feature strides {strides}: the network needs three strides s, 2s, 4s"
        )
    return strides


def _feature_info(backbone: nn.Module):
    info = getattr(backbone, "feature_info", None)
    if info is None or not hasattr(info, "channels") or len(info.channels()) < 3:
        raise ConfigError(
            f"{type(backbone).__name__}: the network needs a timm features_only backbone with "
            "at least three features (its feature_info gives their channels and strides)"
        )
    return info


def strip_prefix(state_dict: dict, prefix: str = "module.") -> dict:
    """Remove a prefix (DistributedDataParallel's ``module.``) from every key that has it."""
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return dict(state_dict)


def checkpoint_filter_fn(state_dict: dict, model: nn.Module | None = None) -> dict:
    """Map an official PraNet checkpoint (or endobench's own) onto this network's names.

    Drops ``module.`` prefixes and the backbone's unused ImageNet classifier (``resnet.fc.*``) and
    renames ``resnet.*`` to ``backbone.*``. Keys already in endobench's layout pass unchanged; the
    caller checks that every remaining key is consumed and none is missing.

    Args:
        state_dict: The loaded tensors.
        model: The target model (unused; kept for timm's filter signature).

    Returns:
        A new dictionary in endobench's layout.
    """
    out = {}
    for key, value in strip_prefix(state_dict).items():
        if key.startswith(OFFICIAL_BACKBONE_PREFIX):
            rest = key[len(OFFICIAL_BACKBONE_PREFIX) :]
            if rest.startswith("fc."):
                continue
            key = "backbone." + rest
        out[key] = value
    return out


def head_kwargs_from_state_dict(state_dict: dict) -> dict:
    """Read the head widths of a checkpoint (``channels``, ``ra_channels``) from its tensor shapes.

    Lets a checkpoint trained with non-default widths load without the caller repeating them.
    Works on official and endobench layouts (with or without ``module.``).
    """
    state_dict = strip_prefix(state_dict)
    kwargs: dict = {}
    rfb = state_dict.get("rfb2_1.branch0.0.conv.weight")
    if rfb is not None:
        kwargs["channels"] = int(rfb.shape[0])
    widths = [state_dict.get(f"ra{i}_conv1.conv.weight") for i in (4, 3, 2)]
    if all(w is not None for w in widths):
        kwargs["ra_channels"] = tuple(int(w.shape[0]) for w in widths)
    return kwargs
