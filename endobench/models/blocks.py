"""Building blocks of the PraNet / Res2Net-PD-RA family: RFB-like reducers, the partial decoder and
the reverse-attention branches.

The parameter names are those of the official PraNet code so that its checkpoints load unchanged.
Two behaviours of the original are kept on purpose because trained weights depend on them:
``ConvBN`` has no activation in ``forward`` (the original builds a ReLU it never calls), and the
partial decoder upsamples with ``align_corners=True`` while every other resize uses the default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBN(nn.Module):
    """Convolution without bias followed by batch normalisation (no activation).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel size (int or pair).
        padding: Zero padding (int or pair).
        dilation: Dilation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, padding=0, dilation=1):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def _rfb_branch(in_channels: int, out_channels: int, size: int) -> nn.Sequential:
    """1x1 reduction, 1xk and kx1 convolutions, then a 3x3 convolution dilated by k."""
    half = size // 2
    return nn.Sequential(
        ConvBN(in_channels, out_channels, 1),
        ConvBN(out_channels, out_channels, (1, size), padding=(0, half)),
        ConvBN(out_channels, out_channels, (size, 1), padding=(half, 0)),
        ConvBN(out_channels, out_channels, 3, padding=size, dilation=size),
    )


class ReceptiveFieldBlock(nn.Module):
    """Reduce a backbone feature to ``out_channels`` with four receptive fields and a residual.

    Args:
        in_channels: Channels of the backbone feature.
        out_channels: Channels after reduction (32 in PraNet).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.branch0 = nn.Sequential(ConvBN(in_channels, out_channels, 1))
        self.branch1 = _rfb_branch(in_channels, out_channels, 3)
        self.branch2 = _rfb_branch(in_channels, out_channels, 5)
        self.branch3 = _rfb_branch(in_channels, out_channels, 7)
        self.conv_cat = ConvBN(4 * out_channels, out_channels, 3, padding=1)
        self.conv_res = ConvBN(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        return F.relu(self.conv_cat(torch.cat(branches, 1)) + self.conv_res(x))


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class PartialDecoder(nn.Module):
    """Aggregate the three reduced high-level features into the global map M_g (stride 8).

    Args:
        channels: Channels of each reduced feature.
    """

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.conv_upsample1 = ConvBN(c, c, 3, padding=1)
        self.conv_upsample2 = ConvBN(c, c, 3, padding=1)
        self.conv_upsample3 = ConvBN(c, c, 3, padding=1)
        self.conv_upsample4 = ConvBN(c, c, 3, padding=1)
        self.conv_upsample5 = ConvBN(2 * c, 2 * c, 3, padding=1)
        self.conv_concat2 = ConvBN(2 * c, 2 * c, 3, padding=1)
        self.conv_concat3 = ConvBN(3 * c, 3 * c, 3, padding=1)
        self.conv4 = ConvBN(3 * c, 3 * c, 3, padding=1)
        self.conv5 = nn.Conv2d(3 * c, 1, 1)

    def forward(self, f5: torch.Tensor, f4: torch.Tensor, f3: torch.Tensor) -> torch.Tensor:
        """Return M_g from the deepest (``f5``, stride 32) to the shallowest (``f3``, stride 8)."""
        f5_up = _up2(f5)
        f4_gated = self.conv_upsample1(f5_up) * f4
        f3_gated = self.conv_upsample2(_up2(f5_up)) * self.conv_upsample3(_up2(f4)) * f3
        mid = self.conv_concat2(torch.cat((f4_gated, self.conv_upsample4(f5_up)), 1))
        top = self.conv_concat3(torch.cat((f3_gated, self.conv_upsample5(_up2(mid))), 1))
        return self.conv5(self.conv4(top))


def reverse_attention(prior: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """Weight ``feature`` by ``1 - sigmoid(prior)``: attend to what the coarser map missed."""
    return (1 - torch.sigmoid(prior)) * feature


def upsample(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear resize by a fixed factor with ``align_corners=False`` (as the original code)."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear")


class CoarseHead(nn.Module):
    """A small head predicting a coarse map from the deepest feature alone (``br``'s first map).

    Args:
        in_channels: Channels of the deepest feature.
        hidden: Hidden channels.
    """

    def __init__(self, in_channels: int, hidden: int = 64):
        super().__init__()
        self.reduce = ConvBN(in_channels, hidden, 1)
        self.mix = ConvBN(hidden, hidden, 3, padding=1)
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.mix(F.relu(self.reduce(x)))))
