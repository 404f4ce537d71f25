"""Prediction files in the EndoCV2021 layout: binary masks as JPEG, probability maps as PNG.

A run folder holds ``EndoCV2021/segmentation/<set>_pred/<name>_mask.jpg`` for every image, 0/255 at
the image's original size, exactly the layout the challenge's inference scripts zip.

JPEG is lossy: a 0/255 mask written as JPEG comes back with a few values next to 0 and 255 along
the mask's edges. The EndoCV2021 scorer binarises predictions with ``> 0``, so a background pixel
that returns as 1 counts as polyp. Masks are therefore written at JPEG quality 100, where only the
values 0, 1, 254 and 255 come back and the ``> 0`` reading differs from the written mask in a thin
rim of edge pixels (Dice against the lossless mask above 0.998 on real Kvasir-SEG masks; see
``docs/pipeline.md``). Scores of a run are always computed from the files as written, so they are
the numbers the challenge's scorer gives for the same folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from endobench.data.readers import read_mask_channel
from endobench.errors import DataError, EndobenchError
from endobench.io import atomic_path

SUBMISSION_ROOT = Path("EndoCV2021") / "segmentation"
MASK_SUFFIX = "_mask.jpg"
PROB_SUFFIX = "_prob.png"
JPEG_QUALITY = 100


def pred_dir_name(set_name: str) -> str:
    """Return the folder name the challenge uses for one test set's predictions (``<set>_pred``)."""
    return f"{set_name}_pred"


def set_pred_dir(run_dir: str | Path, set_name: str) -> Path:
    """Return ``<run>/EndoCV2021/segmentation/<set>_pred``."""
    return Path(run_dir) / SUBMISSION_ROOT / pred_dir_name(set_name)


def prob_dir(run_dir: str | Path, set_name: str) -> Path:
    """Return the folder of a set's probability maps (outside the submission tree)."""
    return Path(run_dir) / "probabilities" / set_name


def mask_path(run_dir: str | Path, set_name: str, name: str) -> Path:
    """Return the path of one predicted mask: ``<set>_pred/<name>_mask.jpg``."""
    return set_pred_dir(run_dir, set_name) / f"{name}{MASK_SUFFIX}"


def prob_path(run_dir: str | Path, set_name: str, name: str) -> Path:
    """Return the path of one probability map: ``probabilities/<set>/<name>_prob.png``."""
    return prob_dir(run_dir, set_name) / f"{name}{PROB_SUFFIX}"


def encode_mask_jpeg(mask: np.ndarray) -> bytes:
    """Encode a boolean (or 0/1) HxW mask as a one-channel 0/255 JPEG at quality 100."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be HxW, got shape {mask.shape}")
    pixels = np.asarray(mask, dtype=bool).view(np.uint8) * np.uint8(255)
    ok, buffer = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise EndobenchError(f"OpenCV could not encode a {mask.shape} mask as JPEG")
    return buffer.tobytes()


def encode_prob_png(prob: np.ndarray) -> bytes:
    """Encode an HxW probability map in [0, 1] as an 8-bit grey PNG (value = round(255 * p))."""
    if prob.ndim != 2:
        raise ValueError(f"probability map must be HxW, got shape {prob.shape}")
    pixels = np.clip(np.rint(np.asarray(prob, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    ok, buffer = cv2.imencode(".png", pixels)
    if not ok:
        raise EndobenchError(f"OpenCV could not encode a {prob.shape} probability map as PNG")
    return buffer.tobytes()


def write_mask(path: str | Path, mask: np.ndarray) -> Path:
    """Write a mask as 0/255 JPEG (quality 100) atomically and return its path."""
    data = encode_mask_jpeg(mask)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_prob(path: str | Path, prob: np.ndarray) -> Path:
    """Write a probability map as an 8-bit PNG atomically and return its path."""
    data = encode_prob_png(prob)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def read_prediction(path: str | Path) -> np.ndarray:
    """Read a predicted mask as the EndoCV2021 toolkit does: channel 0 of ``cv2.imread``, ``> 0``.

    Args:
        path: A mask file (JPEG, PNG or TIFF).

    Returns:
        HxW bool array.

    Raises:
        DataError: The file is missing, truncated or cannot be decoded (naming it).
    """
    return read_mask_pixels(path) > 0


def read_mask_pixels(path: str | Path) -> np.ndarray:
    """Return channel 0 of a mask file as HxW uint8, as ``cv2.imread`` (colour) decodes it.

    The data layer's one toolkit reader (:func:`endobench.data.readers.read_mask_channel`).
    """
    return read_mask_channel(path)


def read_prob(path: str | Path) -> np.ndarray:
    """Read an 8-bit probability PNG back as float32 in [0, 1] (through the one reading rule).

    Raises:
        DataError: The map is missing, truncated or undecodable, naming it.
    """
    try:
        pixels = read_mask_channel(path)
    except DataError as err:
        reason = str(err).split(": ", 1)[-1].split(";")[0]
        raise DataError(
            f"{path}: probability map cannot be read ({reason}); run it again with --force"
        ) from None
    return pixels.astype(np.float32) / 255.0


def max_probability_reader(folder: str | Path) -> Callable[[str], float]:
    """A reader of a frame's maximum probability from a folder of ``<name>_prob.png`` maps.

    Raises (when called):
        DataError: The frame has no map in the folder, or its map cannot be read.
    """

    def read(name: str) -> float:
        path = Path(folder) / f"{name}{PROB_SUFFIX}"
        if not path.is_file():
            raise DataError(
                f"{path}: no probability map for frame {name}; give the run's "
                "probabilities/<set> folder (run with --save-prob) or leave out --prob"
            )
        return float(read_prob(path).max())

    return read


def outputs_complete(
    run_dir: str | Path, set_name: str, name: str, size_hw: tuple[int, int] | None, save_prob: bool
) -> bool:
    """Say whether an image's outputs exist and decode at the expected size (used by ``--resume``).

    Files are written atomically, so a file that exists is whole; decoding guards against files
    damaged outside endobench.
    """
    paths = [mask_path(run_dir, set_name, name)]
    if save_prob:
        paths.append(prob_path(run_dir, set_name, name))
    for path in paths:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        if size_hw is not None:
            try:
                shape = read_mask_pixels(path).shape
            except EndobenchError:
                return False
            if tuple(shape[:2]) != tuple(size_hw):
                return False
    return True
