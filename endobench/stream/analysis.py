"""One frame through the model: prepared on the decoding thread, inferred in batches, decided and
drawn on the writing thread.

The network sees the whole frame shrunk to its square input (pixel-area averaging, as
:class:`endobench.predictor.Preprocess` does for every command). For speed the decision is taken on
the probability map at the network's resolution, not restored to the frame's: the post-processing
compares *shares* of the image (the reference area) and thresholds, so it carries across
resolutions; the area, the box and the outline are scaled to frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from endobench.predictor import Predictor

#: Colours (BGR) of the outline and the alarm banner.
OUTLINE_BGR = (0, 255, 0)
BANNER_BGR = (0, 0, 220)


@dataclass(frozen=True)
class Decision:
    """What the model says of one frame (before the temporal filter).

    Attributes:
        raw: The post-processed mask has a foreground pixel.
        max_prob: The largest probability.
        area_pct: Foreground share, in percent.
        box: ``(x, y, w, h)`` of the largest region in frame pixels, or None.
        outline: The regions' outlines in overlay pixels (int32 point arrays).
    """

    raw: bool
    max_prob: float
    area_pct: float
    box: tuple[int, int, int, int] | None
    outline: tuple[np.ndarray, ...]


class FrameAnalyser:
    """A predictor's steps for video frames (thread-safe where the pipeline calls them).

    Args:
        predictor: Any :class:`~endobench.predictor.Predictor` (PyTorch or ONNX Runtime, any
            device).
    """

    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        self.size = predictor.input_size

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Return the normalised 3 x S x S float32 input of a BGR frame, resized by the
        predictor's rule before the colour conversion (on S x S pixels, not the frame's)."""
        small = self.predictor.preprocess.resize(frame_bgr)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        return self.predictor.preprocess.to_array(rgb)

    def prepare_with_overlay(
        self, frame_bgr: np.ndarray, overlay_size: tuple[int, int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The network's input, and the frame the overlay is drawn on: the frame itself, or a
        copy shrunk to ``overlay_size`` = (W, H) by pixel area."""
        if overlay_size is None or overlay_size == (frame_bgr.shape[1], frame_bgr.shape[0]):
            return self.prepare(frame_bgr), frame_bgr
        shown = cv2.resize(frame_bgr, overlay_size, interpolation=cv2.INTER_AREA)
        return self.prepare(frame_bgr), shown

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Return the B x S x S float32 probabilities of a B x 3 x S x S batch."""
        import torch

        probs = self.predictor.forward_batch(torch.from_numpy(batch))
        return probs[:, 0].float().cpu().numpy()

    def decide(
        self,
        prob: np.ndarray,
        frame_shape: tuple[int, ...],
        overlay_shape: tuple[int, ...] | None = None,
    ) -> Decision:
        """Post-process a probability map; its box in frame pixels, its outline in overlay pixels.

        Args:
            prob: S x S probabilities.
            frame_shape: The source frame's (H, W, ...).
            overlay_shape: The overlay frame's (H, W, ...) (default: the source frame's).
        """
        mask = self.predictor.binarize(prob)
        height, width = int(frame_shape[0]), int(frame_shape[1])
        max_prob = float(prob.max())
        if not mask.any():
            return Decision(False, max_prob, 0.0, None, ())
        scale = np.array([width / mask.shape[1], height / mask.shape[0]], dtype=np.float32)
        drawn = overlay_shape or frame_shape
        to_overlay = np.array(
            [drawn[1] / mask.shape[1], drawn[0] / mask.shape[0]], dtype=np.float32
        )
        mask8 = mask.astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask8, connectivity=8)
        largest = 1 + int(np.argmax(stats[1:count, cv2.CC_STAT_AREA]))
        x, y, w, h = (int(v) for v in stats[largest, :4])
        box = (
            int(x * scale[0]),
            int(y * scale[1]),
            max(1, round(w * scale[0])),
            max(1, round(h * scale[1])),
        )
        contours, _ = cv2.findContours(mask8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = tuple(
            ((c.reshape(-1, 2).astype(np.float32) + 0.5) * to_overlay).astype(np.int32)
            for c in contours
        )
        area = 100.0 * float(np.count_nonzero(mask)) / mask.size
        return Decision(True, max_prob, area, box, outline)


def draw_overlay(frame_bgr: np.ndarray, decision: Decision, alarm: bool) -> np.ndarray:
    """Draw the outline (always) and the alarm banner (while the filter says polyp), in place."""
    height = frame_bgr.shape[0]
    thickness = max(2, height // 360)
    if decision.outline:
        cv2.polylines(frame_bgr, list(decision.outline), True, OUTLINE_BGR, thickness)
    if alarm:
        bar = max(24, height // 14)
        cv2.rectangle(frame_bgr, (0, 0), (frame_bgr.shape[1] - 1, bar), BANNER_BGR, -1)
        scale = bar / 40.0
        cv2.putText(
            frame_bgr, "POLYP", (bar // 3, int(bar * 0.8)), cv2.FONT_HERSHEY_SIMPLEX,
            scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA,
        )  # fmt: skip
    return frame_bgr
