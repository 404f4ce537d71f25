"""Tiny models and tiny data sets for the training tests (CPU, a few milliseconds per step)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class TinyNet(nn.Module):
    """Two logit maps like the real models: a coarse one at half resolution, then the prediction."""

    def __init__(self):
        super().__init__()
        # Dropout draws from the global generator, so exact resume must restore it.
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout2d(0.2)
        )
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.coarse = nn.Conv2d(8, 1, 1)
        self.fine = nn.Conv2d(9, 1, 3, padding=1)
        self.endobench_cfg = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}

    def forward(self, x):
        f = self.stem(x)
        coarse = self.coarse(F.relu(self.down(f)))
        up = F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return [coarse, self.fine(torch.cat([f, up], 1))]


def tiny_net() -> TinyNet:
    """Module-level factory (picklable for spawned DDP workers)."""
    return TinyNet()


def make_pair_folder(root: Path, n: int, side: int = 40, seed: int = 0) -> Path:
    """Write ``n`` PNG image/mask pairs (a bright disc on noise, its mask) in images/ and masks/."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        mask = np.zeros((side, side), np.uint8)
        centre = rng.integers(side // 4, 3 * side // 4, size=2)
        cv2.circle(mask, (int(centre[0]), int(centre[1])), int(rng.integers(4, side // 4)), 255, -1)
        image = rng.integers(0, 90, size=(side, side, 3), dtype=np.uint8)
        image[mask > 0] = image[mask > 0] // 2 + 120
        cv2.imwrite(str(root / "images" / f"p{i:03d}.png"), image)
        cv2.imwrite(str(root / "masks" / f"p{i:03d}.png"), mask)
    return root


def tiny_config(data: Path, out: Path, epochs: int, **overrides):
    """A training configuration small enough for a unit test (64 px, 4 images a batch, no workers)."""
    from endobench.train import Recipe, TrainConfig

    options = dict(
        model="tiny",
        data=[str(data)],
        out=out,
        recipe=Recipe(size=64, batch_size=4, epochs=epochs, scales=(0.5, 1.0, 1.5)),
        val_fraction=0.25,
        workers=0,
        model_factory=tiny_net,
        progress=False,
        seed=3,
    )
    options.update(overrides)
    return TrainConfig(**options)


def brp_lite_cli_args(data: Path, out: Path, *extra: str) -> list[str]:
    """``endobench train`` arguments for the real brp_lite at 64 px, one epoch, a third held back."""
    return [
        "train",
        "--model",
        "brp_lite",
        "--data",
        str(data),
        "--val-fraction",
        "0.34",
        "--size",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--scales",
        "1",
        "--workers",
        "0",
        "--out",
        str(out),
        *extra,
    ]


def ddp_worker(rank: int, port: int, data: Path, out: Path, results: Path) -> None:
    """One rank of a two-process gloo run; saves its final weights for the test to compare."""
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE="2",
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from endobench.train import train

    result = train(tiny_config(data, out, epochs=2, device="cpu"))
    torch.save(
        {"weights": result.runs[0].final_state, "history": result.runs[0].history},
        results / f"rank{rank}.pt",
    )
