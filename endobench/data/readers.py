"""Image and mask readers: one RGB uint8 image and one boolean mask out, whatever file comes in.

TIFF files are decoded with tifffile, everything else with OpenCV (``IMREAD_UNCHANGED``, so
OpenCV neither converts colours nor applies EXIF rotation behind our back). The original
CVC-ClinicDB frames are RGB TIFFs tagged "min-is-black" with three samples: Pillow refuses
them and OpenCV silently returns one channel, tifffile returns all three.

Every problem (missing, empty, truncated or undecodable file) raises
:class:`~endobench.errors.DataError` naming the file, in one line. OpenCV decodes a truncated JPEG
or PNG with grey filler and only a libjpeg warning, so completeness is checked on the bytes first:
a JPEG must end its last scan with the end-of-image marker, a PNG's chunks must reach ``IEND``, a
BMP must be as long as its header says and a TIFF's strips must lie inside the file.

Three readers, one rule for every file endobench reads:

- :func:`read_image`: inputs, as RGB;
- :func:`read_mask`: truths for training and the standard metrics, ``> threshold`` of the grey;
- :func:`read_mask_channel` (and :func:`decode_mask_channel` for bytes, e.g. zip members): the
  EndoCV2021 toolkit's channel 0 of ``cv2.imread``, for its scores and the submission check.

With ``truth=True`` the mask readers also refuse a file that is not a mask (a photograph, a
colour image: :mod:`endobench.data.truth_check`). :func:`image_file_problem` finds the faults
without decoding, :func:`mask_file_problem` those of a truth (``--skip-problems``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from endobench.data.headers import quiet_tifffile
from endobench.data.tiff_decoding import (
    check_tiff_strips,
    decode_tiff,
    first_page,
    open_tiff,
    opencv_decode,
)
from endobench.data.truth_check import NotAMaskError, check_truth
from endobench.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_TIFF_SUFFIXES = (".tif", ".tiff")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an ``HxWx3`` uint8 RGB array.

    Conversions: grey is repeated into three channels; an alpha channel is dropped (not
    composited); palette images are expanded through their palette; 16-bit and other integer
    samples are scaled to 0-255 by the type's maximum (65535 -> 255); float samples are taken
    as 0-1 when their maximum is at most 1, else as 0-255, and clipped. Multi-page TIFFs give
    their first page.

    Args:
        path: A jpg/jpeg/png/bmp/tif/tiff file.

    Returns:
        A C-contiguous ``(H, W, 3)`` uint8 array in RGB order.

    Raises:
        DataError: The file is missing, empty, truncated or cannot be decoded.
    """
    pixels, order = _decode(Path(path))
    pixels = _to_uint8(pixels)
    if pixels.ndim == 2:
        return np.ascontiguousarray(np.repeat(pixels[:, :, None], 3, axis=2))
    channels = pixels.shape[2]
    if channels in (1, 2):  # grey, grey + alpha
        return np.ascontiguousarray(np.repeat(pixels[:, :, :1], 3, axis=2))
    if order == "bgr":
        import cv2

        # The same bytes as reversing the channel axis, about 20x faster on a 1080p frame.
        code = cv2.COLOR_BGRA2RGB if channels == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(np.ascontiguousarray(pixels), code)
    return np.ascontiguousarray(pixels[:, :, :3])


def read_mask(path: str | os.PathLike, threshold: int = 127, *, truth: bool = False) -> np.ndarray:
    """Read a mask file as an ``HxW`` boolean array: ``value > threshold``.

    The value of a pixel is its grey level; for a colour mask it is the largest of its colour
    channels (a pixel is foreground when ANY colour channel exceeds the threshold), so grey masks
    saved as 3-channel JPEGs and coloured masks both work. Alpha is ignored. 16-bit masks are
    first scaled to 0-255 like :func:`read_image`. The default ``> 127`` suits JPEG masks, whose
    edges carry grey values; the EndoCV2021 scorer uses its own ``> 0`` rule on channel 0.

    Args:
        path: A jpg/jpeg/png/bmp/tif/tiff file.
        threshold: Grey level (0-254); pixels strictly above it are foreground.
        truth: The file is a ground truth: refuse it when it is not a mask.

    Returns:
        A ``(H, W)`` bool array.

    Raises:
        DataError: The file is missing, empty, truncated or cannot be decoded.
        NotAMaskError: ``truth`` and the file looks like a photograph or a colour image.
        ConfigError: ``threshold`` is outside 0-254.
    """
    if not 0 <= threshold <= 254:
        raise ConfigError(f"mask threshold {threshold} is out of range: use a value in 0-254")
    pixels, _ = _decode(Path(path))
    pixels = _to_uint8(pixels)
    if truth:
        check_truth(pixels, str(path))
    if pixels.ndim == 3:
        colour = pixels[:, :, :1] if pixels.shape[2] in (1, 2) else pixels[:, :, :3]
        pixels = colour.max(axis=2)
    return pixels > threshold


def empty_mask_like(image_path: str | os.PathLike) -> np.ndarray:
    """Return an all-background ``HxW`` mask of the size of ``image_path`` (negative frames).

    The size comes from the file header when it can be parsed, else from decoding the image.
    """
    from endobench.data.headers import image_size

    size = image_size(image_path)
    if size is None:
        size = read_image(image_path).shape[:2]
    return np.zeros(size, dtype=bool)


def read_mask_channel(path: str | os.PathLike, *, truth: bool = False) -> np.ndarray:
    """Read a mask file's channel 0 as the EndoCV2021 toolkit sees it: ``cv2.imread(file)[:, :, 0]``.

    This is the one reader of the toolkit's rule, used by the scorer, the run's scores, the
    package check and the compare plots. OpenCV decodes 3-channel BGR at 8 bits (16-bit samples
    shifted right by 8), so channel 0 is blue for a colour file and the grey level otherwise.
    TIFF files go through tifffile, because OpenCV silently misreads some of them (the original
    CVC-ClinicDB release); their channel 0 is taken the same way (blue of an RGB TIFF).

    Args:
        path: A jpg/jpeg/png/bmp/tif/tiff file.
        truth: The file is a ground truth: refuse it when it is not a mask.

    Returns:
        A ``(H, W)`` uint8 array; the toolkit's truth is ``> 0`` of it.

    Raises:
        DataError: The file is missing, empty, truncated or cannot be decoded.
        NotAMaskError: ``truth`` and the file looks like a photograph or a colour image.
    """
    path = Path(path)
    return decode_mask_channel(_read_bytes(path), str(path), truth=truth)


def decode_mask_channel(data: bytes, source: str, *, truth: bool = False) -> np.ndarray:
    """Decode the bytes of a mask file (e.g. a zip member) as :func:`read_mask_channel` does.

    Args:
        data: The file's bytes.
        source: What to call the file in errors (its path or zip member name).
        truth: The file is a ground truth: refuse it when it is not a mask.

    Raises:
        DataError: The bytes are empty, truncated or not a decodable image.
    """
    if not data:
        raise DataError(f"{source}: file is empty; replace it with a valid image")
    if _is_tiff(data):
        pixels, order = decode_tiff(source, data)
        if truth:
            check_truth(_to_uint8(pixels), source)
        return _toolkit_channel0(source, pixels, order)
    _check_complete(source, data)
    import cv2

    pixels = opencv_decode(data, cv2.IMREAD_COLOR)
    if pixels is None or pixels.size == 0:
        raise DataError(f"{source}: not a decodable image; replace it with a readable mask file")
    if truth:
        check_truth(pixels, source)
    return np.ascontiguousarray(pixels[:, :, 0])


def mask_file_problem(path: str | os.PathLike) -> tuple[str, str] | None:
    """Check a truth file as :func:`read_mask` with ``truth=True`` reads it (decoding it).

    Returns:
        None when it is a sound mask, else ``("unreadable", message)`` or ``("not a mask",
        message)``, the message naming the file in one line.
    """
    try:
        read_mask(path, truth=True)
    except NotAMaskError as err:
        return "not a mask", str(err)
    except DataError as err:
        return "unreadable", str(err)
    return None


def image_file_problem(path: str | os.PathLike) -> str | None:
    """Check an image file without decoding its pixels; return the problem, or None when sound.

    The check reads the file's bytes and finds what :func:`read_image` would refuse before
    decoding: a missing, empty or truncated file. It is exact for truncation (JPEG end-of-image
    marker after the last scan, PNG chunks up to ``IEND``, BMP declared size, TIFF strips inside
    the file) and costs a read, not a decode. A whole JPEG, PNG or BMP whose size header parses,
    or a TIFF, is taken as sound; any other file (another format under an image suffix, a header
    that does not parse) is decoded by :func:`read_image`'s rule, so the answer is the same.

    Returns:
        The one-line DataError message naming the file, or None.
    """
    from endobench.data.headers import image_size

    path = Path(path)
    try:
        data = _read_bytes(path)
        if _is_tiff(data):
            with quiet_tifffile(), open_tiff(str(path), data) as tif:
                check_tiff_strips(str(path), first_page(str(path), tif), len(data))
            return None
        _check_complete(str(path), data)
        known = data.startswith((b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b"BM"))
        if not known or image_size(path) is None:
            _decode(path)
    except DataError as err:
        return str(err)
    return None


def decode_image_file(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """The file's samples as decoded (type, channels and bit depth kept) and their channel order
    (``"bgr"`` from OpenCV, ``"rgb"`` from tifffile), with the completeness checks of every reader.
    """
    return _decode(Path(path))


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an image file; check the path") from None
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror}); check its permissions") from None
    if not data:
        raise DataError(f"{path}: file is empty; replace it with a valid image")
    return data


def _is_tiff(data: bytes) -> bool:
    return data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _decode(path: Path) -> tuple[np.ndarray, str]:
    """Decode ``path``; return the raw array and its channel order ("bgr" or "rgb")."""
    data = _read_bytes(path)
    if _is_tiff(data):
        return decode_tiff(str(path), data)
    _check_complete(str(path), data)
    import cv2

    pixels = opencv_decode(data, cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise DataError(
            f"{path}: not a decodable image; use one of {', '.join(IMAGE_SUFFIXES)} or replace it"
        )
    return pixels, "bgr"


def _check_complete(source: str, data: bytes) -> None:
    """Reject truncated JPEG/PNG/BMP files, which OpenCV would decode with grey filler."""
    truncated = False
    if data.startswith(b"\xff\xd8"):
        # Entropy-coded data never holds FF D9 or FF DA (FF is stuffed), so a whole JPEG has a
        # start-of-scan marker and an end-of-image marker after the last one.
        last_scan = data.rfind(b"\xff\xda")
        truncated = last_scan < 0 or data.rfind(b"\xff\xd9") < last_scan
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        truncated = not _png_reaches_iend(data)
    elif data.startswith(b"BM") and len(data) >= 6:
        declared = int.from_bytes(data[2:6], "little")
        truncated = declared > len(data)
    if truncated:
        raise DataError(f"{source}: file is truncated; download or export it again")


def _png_reaches_iend(data: bytes) -> bool:
    """Walk the PNG chunks: every chunk must lie inside the file, up to the ``IEND`` chunk."""
    position, size = 8, len(data)
    while position + 8 <= size:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        position += 12 + length  # length, type, data, CRC
        if position > size:
            return False
        if kind == b"IEND":
            return True
    return False


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Scale any sample type to uint8 (see :func:`read_image` for the rules)."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == bool:
        return pixels.astype(np.uint8) * 255
    if np.issubdtype(pixels.dtype, np.integer):
        top = np.iinfo(pixels.dtype).max
        scaled = np.clip(pixels.astype(np.float64), 0, None) * (255.0 / top)
        return np.rint(scaled).astype(np.uint8)
    values = pixels.astype(np.float64)
    finite_max = np.nanmax(values) if values.size else 0.0
    if finite_max <= 1.0:
        values = values * 255.0
    return np.rint(np.clip(np.nan_to_num(values), 0, 255)).astype(np.uint8)


def _toolkit_channel0(source: str, pixels: np.ndarray, order: str) -> np.ndarray:
    """Channel 0 of what ``cv2.imread(file)`` gives: blue of colour, grey of grey, 8 bits."""
    if pixels.ndim == 3:
        channel = 2 if order == "rgb" and pixels.shape[2] >= 3 else 0
        pixels = pixels[:, :, channel]
    if pixels.ndim != 2:
        raise DataError(
            f"{source}: an image of shape {pixels.shape} is not a mask; save one 2-D page"
        )
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)  # OpenCV's 16-to-8-bit rule
    else:
        pixels = _to_uint8(pixels)
    return np.ascontiguousarray(pixels)
