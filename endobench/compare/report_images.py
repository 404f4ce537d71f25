"""Thumbnails of the HTML report: image, truth and each run's prediction, as JPEG data URIs.

Each prediction is drawn over its image with true positive, false positive and false negative
pixels coloured apart (:mod:`endobench.compare.overlays`). An image whose files cannot be read any
more (the data moved) gets no thumbnails and is named in the report instead of failing it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from endobench.compare.overlays import TRUTH_COLOUR, blend, error_overlay, load_triplet, thumbnail
from endobench.errors import EndobenchError
from endobench.writers.manifest import read_manifest
from endobench.writers.masks import mask_path


@dataclass
class Thumbs:
    """Thumbnails of one image: ``image``, ``truth`` and ``runs[RUN]`` (data URIs)."""

    image: str = ""
    truth: str = ""
    runs: dict[str, str] = field(default_factory=dict)


def jpeg_uri(pixels: np.ndarray, quality: int = 80) -> str:
    """Encode an RGB uint8 array as a ``data:image/jpeg;base64,...`` URI."""
    import cv2

    ok, data = cv2.imencode(
        ".jpg", np.ascontiguousarray(pixels[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise EndobenchError("could not encode a thumbnail as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def image_thumbs(
    entry: dict[str, Any], run_dirs: Sequence[Path], set_name: str, height: int
) -> Thumbs:
    """Thumbnails of one manifest entry for every run (a run without the mask gets none)."""
    image, truth, _ = load_triplet(entry, None)
    thumbs = Thumbs(
        image=jpeg_uri(thumbnail(image, height)),
        truth=jpeg_uri(thumbnail(blend(image, truth, TRUTH_COLOUR), height)),
    )
    for run_dir in run_dirs:
        _, _, pred = load_triplet(entry, mask_path(run_dir, set_name, entry["name"]))
        if pred is not None:
            thumbs.runs[run_dir.name] = jpeg_uri(
                thumbnail(error_overlay(image, truth, pred), height)
            )
    return thumbs


def collect_thumbs(
    run_dirs: Sequence[Path],
    sets: Sequence[str],
    height: int = 96,
    progress: Callable[[int], Any] | None = None,
) -> tuple[dict[tuple[str, str], Thumbs], list[str]]:
    """Thumbnails of every scored image of the sets, from the first run's manifest.

    Returns:
        ``({(set, image): Thumbs}, [problems])``; a problem names an image that could not be read.
    """
    manifest = read_manifest(run_dirs[0])
    thumbs: dict[tuple[str, str], Thumbs] = {}
    problems: list[str] = []
    for set_name in sets:
        for entry in manifest.get(set_name, []):
            try:
                thumbs[(set_name, entry["name"])] = image_thumbs(entry, run_dirs, set_name, height)
            except (EndobenchError, OSError) as err:
                problems.append(f"{set_name}/{entry['name']}: {err}")
            if progress is not None:
                progress(1)
    return thumbs, problems


def count_images(run_dir: Path, sets: Sequence[str]) -> int:
    """How many manifest entries the sets have (the thumbnail progress total)."""
    manifest = read_manifest(run_dir)
    return sum(len(manifest.get(s, [])) for s in sets)
