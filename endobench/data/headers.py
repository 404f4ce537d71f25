"""Image sizes from file headers, without decoding pixels.

Opening a data set checks that every image and its mask have the same size. Decoding 2000 files
for that would take many seconds, so this module reads only the few bytes that state the size:
the PNG ``IHDR`` chunk, the JPEG ``SOFn`` segment, the BMP info header and the first TIFF page's
tags (through tifffile, which parses tags lazily).
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xDA)) | {0x01}


def image_size(path: str | Path) -> tuple[int, int] | None:
    """Return ``(height, width)`` of an image file by reading its header only.

    Args:
        path: A PNG, JPEG, BMP or TIFF file (the format is recognised by its first bytes, not by
            its suffix).

    Returns:
        ``(height, width)``, or ``None`` when the header cannot be parsed (unknown format,
        damaged header). ``None`` is not an error: callers check the size after decoding instead.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n"):
                return _png_size(head)
            if head.startswith(b"\xff\xd8"):
                return _jpeg_size(handle)
            if head.startswith(b"BM"):
                return _bmp_size(head)
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff_size(path)
    except (OSError, ValueError, struct.error):
        return None
    return None


def _png_size(head: bytes) -> tuple[int, int] | None:
    if head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _jpeg_size(handle) -> tuple[int, int] | None:
    handle.seek(2)
    while True:
        byte = handle.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            continue
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes before a marker
            marker = handle.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _STANDALONE_MARKERS or code == 0x00:
            continue
        if code == 0xD9:  # end of image before any frame header
            return None
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if code in _SOF_MARKERS:
            frame = handle.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return (height, width) if height and width else None
        handle.seek(length - 2, 1)


def _bmp_size(head: bytes) -> tuple[int, int] | None:
    (header_size,) = struct.unpack("<I", head[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return abs(height), width


def _tiff_size(path: str | Path) -> tuple[int, int] | None:
    import tifffile

    try:
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            return int(page.imagelength), int(page.imagewidth)
    except Exception:  # tifffile raises many types (IndexError, TiffFileError...) for damaged files
        return None


class _QuietWhileReading(logging.Filter):
    """Drops tifffile's log records in a thread that is inside :func:`quiet_tifffile`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "depth", 0)


_QUIET = threading.local()
_FILTER = _QuietWhileReading()


@contextmanager
def quiet_tifffile() -> Iterator[None]:
    """Silence tifffile's warnings about a damaged file while endobench reads it.

    endobench turns a damaged TIFF into one ``DataError`` line; tifffile would also log a warning
    per broken tag to stderr. Only the current thread's reads are silenced.
    """
    logger = logging.getLogger("tifffile")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    _QUIET.depth = getattr(_QUIET, "depth", 0) + 1
    try:
        yield
    finally:
        _QUIET.depth -= 1
