"""Short videos for the stream tests, and a scripted stand-in for the model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from endobench.predictor import Preprocess


def write_video(
    path: Path, frames: Sequence[np.ndarray], fps: float = 25.0, fourcc: str = "mp4v"
) -> Path:
    """Write BGR frames (all the same size) as a video and return its path."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    for frame in frames:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return path


def count_video_frames(path: Path) -> tuple[int, float]:
    """Decode every frame of a video: (frames, the rate it reports)."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    rate = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return count, rate


def sample_frames(
    sample_root: Path, count: int, size: tuple[int, int] = (320, 240)
) -> list[np.ndarray]:
    """``count`` BGR frames made from the bundled sample images (cycled), resized to ``size``."""
    images = sorted((sample_root / "kvasir" / "images").glob("*.jpg"))
    assert images, "the bundled sample has no images"
    return [cv2.resize(cv2.imread(str(images[i % len(images)])), size) for i in range(count)]


def scripted_frames(
    decisions: Sequence[int], size: tuple[int, int] = (160, 96)
) -> list[np.ndarray]:
    """Frames that the scripted model calls polyp (white) or not (black), one per decision."""
    width, height = size
    return [np.full((height, width, 3), 255 if d else 0, np.uint8) for d in decisions]


class ScriptedPredictor:
    """Stands in for a Predictor: a frame is polyp when its pixels are bright.

    The probability map is the normalised red channel, so a white frame is all polyp (area 100 %,
    box the whole frame) and a black one has no polyp.
    """

    def __init__(self, size: int = 32):
        self.preprocess = Preprocess(size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        self.input_size = size
        self.device = torch.device("cpu")
        self.config = {"name": "scripted"}
        self.model_name = "scripted"
        self.weights_sha256 = None
        self.postprocess_params = None
        self.backend, self.precision, self.batch_size = "torch", "fp32", 1

    def forward_batch(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1].clamp(0, 1)

    def binarize(self, prob: np.ndarray) -> np.ndarray:
        return np.asarray(prob) > 0.5
