"""A tiny registered model with real weights from a short fit on the bundled sample (for the runner tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

MODEL_NAME = "pipeline_tiny"
FIT_SIZE = 64


class TinyNet(nn.Module):
    """Three convolutions; ``forward`` returns a one-element list of logit maps at input size.

    Args:
        downsample: The second convolution halves the map and a bilinear resize restores it (the
            operators the real networks export); else a dilated convolution keeps the size.
    """

    def __init__(self, downsample: bool = False) -> None:
        super().__init__()
        self.downsample = downsample
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1)
            if downsample
            else nn.Conv2d(8, 8, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv2d(8, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        logits = self.body(x)
        if self.downsample:
            logits = nn.functional.interpolate(
                logits, scale_factor=2, mode="bilinear", align_corners=False
            )
        return [logits]


def register_tiny(name: str, input_size: int, description: str, downsample: bool = False) -> str:
    """Register a :class:`TinyNet` as ``name`` once per process and return the name."""
    from endobench.models import is_registered, register_model

    if not is_registered(name):

        @register_model(name=name, input_size=input_size, num_outputs=1, description=description)
        def tiny(**kwargs):
            return TinyNet(downsample)

    return name


def register() -> str:
    """Register ``pipeline_tiny`` once per process and return its name."""
    return register_tiny(MODEL_NAME, FIT_SIZE, "pipeline test net")


def fit_weights(sample_folder: Path, out: Path, steps: int = 60) -> Path:
    """Fit the tiny net for a few Adam steps on a sample set and save an endobench checkpoint."""
    from endobench.data.sample import sample_dataset
    from endobench.models import create_model, save_checkpoint
    from endobench.predictor import Preprocess

    register()
    torch.manual_seed(0)
    model = create_model(MODEL_NAME)
    cfg = model.endobench_cfg
    prep = Preprocess(FIT_SIZE, tuple(cfg["mean"]), tuple(cfg["std"]))
    images, masks = [], []
    import cv2

    for sample in sample_dataset(sample_folder.name):
        image, mask = sample.read()
        images.append(prep(image))
        small = cv2.resize(
            mask.astype(np.float32), (FIT_SIZE, FIT_SIZE), interpolation=cv2.INTER_AREA
        )
        masks.append(torch.from_numpy(small)[None])
    x, y = torch.stack(images), torch.stack(masks)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.03)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared: one thread is fastest
    try:
        model.train()
        for _ in range(steps):
            optimiser.zero_grad()
            logits = model(x)[-1]
            prob = torch.sigmoid(logits)
            dice = 1 - (2 * (prob * y).sum() + 1) / (prob.sum() + y.sum() + 1)
            loss = (
                nn.functional.binary_cross_entropy_with_logits(
                    logits, y, pos_weight=torch.tensor(4.0)
                )
                + dice
            )
            loss.backward()
            optimiser.step()
        model.eval()
    finally:
        torch.set_num_threads(threads)
    return save_checkpoint(
        out, model, metadata={"training": f"{steps} Adam steps on {sample_folder}"}
    )
