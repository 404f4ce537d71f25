"""The steps that scoring folders (:mod:`endobench.metrics.folders`) and scoring frames
(:mod:`endobench.metrics.frames`) share: reading one image's files under the skip rule, the
optional standard metrics, the probability map they take, and the progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from endobench.errors import DataError

T = TypeVar("T")


def read_or_skip(
    on_problem: str, skipped: list[str], read: Callable[..., T], *args: Any
) -> T | None:
    """Return ``read(*args)``; an unreadable file stops the scoring, or is skipped.

    Args:
        on_problem: ``"error"``: the :class:`DataError` is raised; ``"skip"``: its line is
            appended to ``skipped`` and None returned.
        skipped: The lines of what was left out so far.
        read: Reads the files of one image.
        args: Its arguments.
    """
    try:
        return read(*args)
    except DataError as err:
        if on_problem == "error":
            raise
        skipped.append(str(err))
        return None


def standard_accumulator(standard: bool):
    """The standard metrics' accumulator when ``standard`` is asked for, else None."""
    if not standard:
        return None
    from endobench.metrics.standard import StandardMetrics

    return StandardMetrics()


def as_probability_map(prediction: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A prediction as an ``H x W`` uint8 0-255 map at the truth's size (bilinear when resized)."""
    prediction = np.asarray(prediction)
    if prediction.ndim == 3:
        prediction = prediction[:, :, 0]
    if prediction.dtype == bool:
        prediction = prediction.astype(np.uint8) * 255
    elif prediction.dtype != np.uint8:
        raise ValueError(
            f"standard metrics need a bool or uint8 prediction, got {prediction.dtype}"
        )
    if prediction.shape != tuple(shape):
        import cv2

        prediction = cv2.resize(prediction, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return prediction


def track_scoring(items: list, progress: bool):
    """``items`` behind a transient "scoring" progress bar on stderr (none for fewer than two)."""
    if not progress or len(items) < 2:
        return items
    from rich.console import Console
    from rich.progress import track

    return track(items, description="scoring", transient=True, console=Console(stderr=True))
