"""What every fast-path choice shares: the agreement rule, the calibration sample and the result.

:func:`endobench.export.fast_backend.select_fast_backend` (the CPU's ONNX Runtime export) and
:func:`endobench.export.gpu_path.select_gpu_path` (CUDA graphs, reduced precision) both compare a
candidate's masks with eager fp32's on :func:`calibration_images` and keep it only when every
image's Dice is at least :data:`MIN_DICE`; both return a :class:`BackendSelection`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Smallest per-image Dice between ONNX Runtime's and eager PyTorch's masks.
MIN_DICE = 0.99
#: Calibration images (evenly spaced over the bundled sample's real images).
CALIBRATION_IMAGES = 10
#: Timed batch-1 passes of each backend (after two untimed ones); the median decides.
TIMED_PASSES = 5


@dataclass
class BackendSelection:
    """The predictor a run uses, and why.

    Attributes:
        predictor: The predictor to run (the one given, or an ONNX Runtime one).
        backend: ``torch`` or ``onnxruntime``.
        reason: One sentence saying why this backend.
        onnx_file: The cached export that runs (None for PyTorch).
        check: What the comparison measured (None when there was none).
        cached: The verdict was read from the cache (no export or comparison this time).
    """

    predictor: Any
    backend: str
    reason: str
    onnx_file: str | None = None
    check: dict[str, Any] | None = field(default=None)
    cached: bool = False

    def record(self) -> dict[str, Any]:
        """What ``run.json`` records of the choice (``backend_choice``)."""
        return {
            "backend": self.backend,
            "reason": self.reason,
            "onnx_file": self.onnx_file,
            "check": self.check,
        }


def calibration_images(images: int = CALIBRATION_IMAGES) -> tuple[list[str], list[np.ndarray]]:
    """Ids and RGB arrays of ``images`` bundled real images, evenly spaced (the calibration sample)."""
    from endobench.data.inputs import evenly_spaced
    from endobench.export.onnx import reference_images

    references = reference_images()
    chosen = [references[i] for i in evenly_spaced(len(references), images)]
    return [image_id for image_id, _ in chosen], [image for _, image in chosen]
