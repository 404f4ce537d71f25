"""A tiny registered network for the export tests: the operators the real networks export."""

from __future__ import annotations

import torch
from torch import nn

TINY = "export_tiny"
TINY_SIZE = 64


class TinyNet(nn.Module):
    """Convolution, batch norm, ReLU and a resize: the operators the real networks export."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        logits = nn.functional.interpolate(
            self.body(x), scale_factor=2, mode="bilinear", align_corners=False
        )
        return [logits]


def register_tiny() -> str:
    """Register ``export_tiny`` once per process."""
    from endobench.models import is_registered, register_model

    if not is_registered(TINY):

        @register_model(name=TINY, input_size=TINY_SIZE, num_outputs=1, description="export tests")
        def export_tiny(**kwargs):
            return TinyNet()

    return TINY
