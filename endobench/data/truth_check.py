"""The truth rule: a ground-truth file must look like a mask, not like a photograph.

A folder of photographs given as truths (``--masks images/``) reads without an error and scores
a plausible Dice, so every truth is checked on its decoded pixels when it is read
(:func:`endobench.data.readers.read_mask` and ``read_mask_channel`` with ``truth=True``). A mask
is grey (its colour channels equal) with grey levels in two clusters, near 0 and near 255; JPEG
masks (Kvasir-SEG, PolypGen) carry other grey levels along the polyp's edge, a few per cent of
their pixels at most. A photograph has most of its pixels in between.

The check looks at a strided subsample of at most about 65 000 pixels, so it costs well under a
millisecond beside the decode. Measured on the shared data: no Kvasir-SEG or CVC-ClinicDB mask has
more than 0.04 % of its pixels in the middle band or any pixel whose channels differ; every image
of both has at least 24 % of its pixels in the middle band and 25 % whose channels differ.
"""

from __future__ import annotations

import numpy as np

from endobench.errors import DataError

#: Grey levels strictly between these are neither background nor polyp.
MIDDLE_BAND = (32, 223)
#: Channels further apart than this make a pixel coloured (JPEG chroma noise stays below it).
CHANNEL_SPREAD = 32
#: A truth with more of its pixels mid-grey, or coloured, is refused.
MAX_SHARE = 0.05
_SAMPLED_PIXELS = 65536


class NotAMaskError(DataError):
    """A truth file that decodes but is not a mask (a photograph, a colour image)."""


def truth_problem(pixels: np.ndarray) -> str | None:
    """Say what a decoded truth looks like when it is not a mask; None when it is one.

    Args:
        pixels: The decoded uint8 file, ``H x W`` or ``H x W x C`` (any channel order; a
            fourth channel, alpha, is ignored).

    Returns:
        A phrase such as ``"looks like a photograph, not a mask (...)"``, or None.
    """
    step = max(1, int(np.sqrt(pixels.shape[0] * pixels.shape[1] / _SAMPLED_PIXELS)))
    sample = pixels[::step, ::step]
    coloured = 0.0
    if sample.ndim == 3 and sample.shape[2] >= 3:
        colour = sample[:, :, :3]
        grey = colour.max(axis=2)
        coloured = float(np.mean(grey - colour.min(axis=2) > CHANNEL_SPREAD))
    else:
        grey = sample if sample.ndim == 2 else sample[:, :, 0]
    low, high = MIDDLE_BAND
    middle = float(np.mean((grey > low) & (grey < high)))
    if middle > MAX_SHARE:
        what = "a colour image" if coloured > MAX_SHARE else "a grey image"
        return (
            f"looks like a photograph, not a mask ({what} with {middle:.0%} of its pixels "
            f"neither near 0 nor near 255)"
        )
    if coloured > MAX_SHARE:
        return (
            f"is a colour image, not a grey mask (its channels differ on {coloured:.0%} of its "
            f"pixels)"
        )
    return None


def check_truth(pixels: np.ndarray, source: str) -> None:
    """Raise :class:`NotAMaskError` naming ``source`` when ``pixels`` are not a mask.

    Raises:
        NotAMaskError: One line: the file, what it looks like and the fix.
    """
    problem = truth_problem(pixels)
    if problem is not None:
        fix = (
            "give the truth masks, not the images"
            if problem.startswith("looks like")
            else "save the truth in grey, 0 for background and 255 for polyp"
        )
        raise NotAMaskError(f"{source}: {problem}; {fix}")
