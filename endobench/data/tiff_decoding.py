"""TIFF decoding for the readers (:mod:`endobench.data.readers`): tifffile first, OpenCV when a
compression needs the optional imagecodecs package.

The original CVC-ClinicDB frames are RGB TIFFs tagged "min-is-black" with three samples: Pillow
refuses them and OpenCV silently returns one channel, tifffile returns all three. Every damaged
file raises a one-line :class:`~endobench.errors.DataError` naming it.
"""

from __future__ import annotations

import numpy as np

from endobench.data.headers import quiet_tifffile
from endobench.errors import DataError


def open_tiff(source: str, data: bytes):
    """Open TIFF bytes with tifffile; a file it cannot parse is a DataError naming ``source``."""
    import io

    import tifffile

    try:
        return tifffile.TiffFile(io.BytesIO(data), name=source)
    except Exception as err:  # tifffile raises many types for damaged files
        raise DataError(f"{source}: not a readable TIFF ({err}); replace it") from None


def first_page(source: str, tif):
    """The first page of an open TIFF; a damaged one is a DataError naming ``source``."""
    try:
        return tif.pages[0]
    except Exception as err:  # tifffile raises many types for damaged files
        raise DataError(f"{source}: not a readable TIFF ({err}); replace it") from None


def check_tiff_strips(source: str, page, size: int) -> None:
    """Refuse a TIFF page whose strips do not lie inside the file of ``size`` bytes (truncated)."""
    ends = [int(o) + int(n) for o, n in zip(page.dataoffsets, page.databytecounts, strict=False)]
    if not ends or max(ends) > size:
        raise DataError(f"{source}: file is truncated; download or export it again")


def decode_tiff(source: str, data: bytes) -> tuple[np.ndarray, str]:
    """Decode a TIFF with tifffile; fall back to OpenCV for compressions tifffile cannot decode
    without the optional imagecodecs package (LZW, JPEG, PackBits)."""
    import tifffile

    with quiet_tifffile(), open_tiff(source, data) as tif:
        try:
            page = tif.pages[0]
            check_tiff_strips(source, page, len(data))
            samples = int(page.samplesperpixel)
            try:
                pixels = page.asarray()
            except (KeyError, ValueError, NotImplementedError) as err:
                if "imagecodecs" not in str(err):
                    raise
                return _decode_tiff_with_opencv(source, data, samples), "bgr"
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and pixels.ndim == 3:
                pixels = np.moveaxis(pixels, 0, -1)
            photometric = page.photometric
            if photometric == tifffile.PHOTOMETRIC.PALETTE and page.colormap is not None:
                pixels = _apply_palette(pixels, np.asarray(page.colormap))
            elif photometric == tifffile.PHOTOMETRIC.MINISWHITE and pixels.ndim == 2:
                pixels = _invert(pixels)
        except DataError:
            raise
        except Exception as err:  # tifffile raises many types for damaged files
            raise DataError(f"{source}: not a readable TIFF ({err}); replace it") from None
    return pixels, "rgb"


def _decode_tiff_with_opencv(source: str, data: bytes, samples: int) -> np.ndarray:
    import cv2

    pixels = opencv_decode(data, cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise DataError(f"{source}: not a readable TIFF; replace it or pip install imagecodecs")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if channels < min(samples, 3):
        # OpenCV drops channels of some RGB TIFFs (the CVC-ClinicDB trap) instead of failing.
        raise DataError(
            f"{source}: compressed {samples}-channel TIFF that OpenCV reads as {channels} channel(s); "
            f"pip install imagecodecs so tifffile can decode it"
        )
    return pixels


def opencv_decode(data: bytes, flags: int) -> np.ndarray | None:
    """OpenCV's decode, with its exceptions (oversized or odd files) read as "not decodable"."""
    import cv2

    try:
        return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:
        return None


def _apply_palette(indices: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    # TIFF colour maps are (3, 2**bits) uint16 tables.
    return np.moveaxis(colormap[:, indices], 0, -1)


def _invert(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == bool:
        return ~pixels
    if np.issubdtype(pixels.dtype, np.integer):
        return np.iinfo(pixels.dtype).max - pixels
    return pixels.max() - pixels
