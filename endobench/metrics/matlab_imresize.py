"""MATLAB's ``imresize(A, [rows cols])`` for integer images: bicubic, antialiased when shrinking.

PraNet's ``eval/main.m`` resizes a probability map to its truth's size with MATLAB's ``imresize``
(default method ``bicubic``, default ``Antialiasing`` true). OpenCV's ``INTER_CUBIC`` is another
function: its kernel has ``a = -0.75`` (MATLAB's Keys kernel has ``a = -0.5``), it does not widen
the kernel when shrinking, and it clamps at the border where MATLAB mirrors. This module follows
MATLAB's documented algorithm:

- per dimension, the scale is ``out / in``; output pixel ``x`` (1-based) maps to
  ``u = x / scale + 0.5 (1 - 1 / scale)`` in the input;
- the kernel is Keys' cubic (``a = -0.5``); when shrinking it is stretched by ``1 / scale`` and
  scaled by ``scale`` (antialiasing), so it spans ``4 / scale`` input pixels;
- each output pixel's weights are normalised to sum to 1; indices outside the image are mirrored
  (``1 .. n, n .. 1`` repeated) as recent MATLAB releases do (older releases clamped them to the
  edge pixel instead: the two differ only within two pixels of the border, times ``1 / scale``
  when shrinking); columns of weights that are zero for every output pixel are dropped;
- the dimension with the smaller scale is resized first (rows first on a tie), and an integer
  image is rounded (half away from zero) and saturated to its type after EACH dimension, as
  MATLAB's ``imresizemex`` returns the input's class.
"""

from __future__ import annotations

import numpy as np

#: Keys' cubic kernel spans [-2, 2].
KERNEL_WIDTH = 4.0


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2))
    return near + far


def contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices of every output pixel along one dimension.

    Args:
        in_length: Input pixels along the dimension.
        out_length: Output pixels along the dimension.
        scale: ``out_length / in_length``.

    Returns:
        ``(weights, indices)``, both ``(out_length, P)``: output pixel ``i`` is
        ``sum_j weights[i, j] * input[indices[i, j]]``.
    """
    width = KERNEL_WIDTH / scale if scale < 1 else KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * cubic(scale * distance) if scale < 1 else cubic(distance)
    weights = weights / np.sum(weights, axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, mirror.size)]
    used = np.any(weights != 0, axis=0)
    return weights[:, used], indices[:, used]


def _round_to(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    rounded = np.sign(values) * np.floor(np.abs(values) + 0.5)
    return np.clip(rounded, info.min, info.max).astype(dtype)


def _resize_axis(image: np.ndarray, axis: int, out_length: int) -> np.ndarray:
    in_length = image.shape[axis]
    weights, indices = contributions(in_length, out_length, out_length / in_length)
    moved = np.moveaxis(image, axis, 0).astype(np.float64)
    total = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    expand = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(weights.shape[1]):  # one tap at a time, in order, as imresizemex sums
        total += weights[:, tap][expand] * moved[indices[:, tap]]
    return np.moveaxis(_round_to(total, image.dtype), 0, axis)


def imresize(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize an integer image as MATLAB's ``imresize(image, size_hw)`` does (bicubic).

    Args:
        image: ``HxW`` or ``HxWxC`` array of an unsigned integer type (uint8, uint16).
        size_hw: The output's ``(rows, cols)``.

    Returns:
        The resized image, of the input's type.

    Raises:
        ValueError: ``image`` is not of an integer type, or a size is not positive.
    """
    if not np.issubdtype(image.dtype, np.integer):
        raise ValueError(f"imresize takes an integer image, not {image.dtype}")
    rows, cols = (int(v) for v in size_hw)
    if rows < 1 or cols < 1 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"cannot resize {image.shape[:2]} to {(rows, cols)}")
    scales = (rows / image.shape[0], cols / image.shape[1])
    order = sorted(range(2), key=lambda axis: scales[axis])  # stable: rows first on a tie
    out = image
    for axis in order:
        out = _resize_axis(out, axis, (rows, cols)[axis])
    return out
