"""An image file's pixels as MATLAB's ``imread`` returns them (for PraNet's ``eval/main.m``).

- a 1-bit grey PNG, a 1-bit BMP and a bilevel TIFF are ``logical`` (numpy ``bool``);
- other files keep their sample type (uint8, uint16) and come as ``HxW`` (grey) or ``HxWx3`` in
  RGB order; an alpha channel is dropped (``imread`` returns it apart), grey with alpha is grey.

Palette images are expanded to their colours here, where ``imread`` would return the palette
indices; masks are rarely stored so, and the difference is stated in ``docs/metrics.md``.
Reading goes through the one reading rule (:func:`endobench.data.readers.decode_image_file`: the
completeness checks, tifffile for TIFF).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from endobench.data.readers import decode_image_file


def _one_bit_header(head: bytes) -> bool:
    """True for a grey 1-bit PNG or a 1-bit BMP (bilevel TIFFs decode as bool already)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) > 25:
        return head[24] == 1 and head[25] == 0  # IHDR bit depth 1, colour type grey
    if head.startswith(b"BM") and len(head) > 29:
        return int.from_bytes(head[28:30], "little") == 1
    return False


def imread_like_matlab(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as MATLAB's ``imread`` would (see the module's notes).

    Raises:
        DataError: The file is missing, truncated or cannot be decoded.
    """
    pixels, order = decode_image_file(path)
    with open(Path(path), "rb") as handle:
        head = handle.read(32)
    if pixels.dtype == bool or _one_bit_header(head):
        return pixels > 0 if pixels.ndim == 2 else pixels[:, :, 0] > 0
    if pixels.ndim == 3:
        channels = pixels.shape[2]
        if channels in (1, 2):
            pixels = pixels[:, :, 0]
        elif order == "bgr":
            pixels = pixels[:, :, 2::-1]
        else:
            pixels = pixels[:, :, :3]
    return np.ascontiguousarray(pixels)
