"""Files in, the 13 figures of PraNet's ``eval/main.m`` out (``endobench score --maps``).

The reading steps are main.m's, in its order:

- truth: ``imread``; a colour truth goes through ``rgb2gray`` (MATLAB's coefficients, rounded to
  the type); unless the file is 1-bit (``logical``), polyp is ``> 128``;
- map: ``imread``; resized to the truth's size with MATLAB's ``imresize`` when the sizes differ
  (:mod:`endobench.metrics.matlab_imresize`; a 1-bit map as ``imresize`` does it: ``im2uint8``,
  resized, ``> 128``); its first channel (red of a colour map); then
  ``im2double`` divides by the type's maximum (:mod:`endobench.metrics.pranet_eval` does the rest).

Maps pair with truths by name: the truth ``<name>.<ext>`` or ``<name>_mask.<ext>``, the map
``<name>.<ext>``, ``<name>_prob.<ext>`` (``run --save-prob``) or ``<name>_mask.<ext>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from endobench.data.matlab_imread import imread_like_matlab
from endobench.data.pairing import list_images, strip_mask_suffix
from endobench.errors import ScoringError
from endobench.metrics.folders import track_scoring
from endobench.metrics.matlab_imresize import imresize
from endobench.metrics.pranet_eval import JSON_KEY, ImageFigures, PraNetEval, image_figures
from endobench.metrics.set_scorer import Frame, FrameConsumer

#: ``rgb2gray``'s weights in MATLAB: the first row of the inverse of the NTSC (YIQ) matrix.
RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
#: Suffixes a map's stem may carry after the truth's name.
MAP_SUFFIXES = ("_prob", "_mask")


def truth_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """main.m's truth from ``imread``'s pixels: ``rgb2gray`` of colour, then ``> 128``."""
    if pixels.dtype == bool:
        return pixels if pixels.ndim == 2 else pixels[:, :, 0]
    if pixels.ndim == 3:
        grey = pixels[:, :, :3].astype(np.float64) @ np.asarray(RGB2GRAY)
        top = np.iinfo(pixels.dtype).max
        pixels = np.clip(np.floor(grey + 0.5), 0, top).astype(pixels.dtype)
    return pixels > 128


def read_truth(path: str | os.PathLike) -> np.ndarray:
    """Read a truth file as main.m does; return an ``HxW`` boolean mask."""
    return truth_from_pixels(imread_like_matlab(path))


def map_levels(pixels: np.ndarray, size_hw: tuple[int, int], source: str) -> tuple[np.ndarray, int]:
    """main.m's map from ``imread``'s pixels: resized to ``size_hw`` if needed, first channel.

    Args:
        pixels: The map as ``imread`` returns it (uint8, uint16 or bool; grey or RGB).
        size_hw: The truth's size.
        source: The file, for errors.

    Returns:
        ``(levels, top)``: the integer map and the type's maximum ``im2double`` divides by.

    Raises:
        ScoringError: A map of another sample type (float, say).
    """
    if pixels.dtype == bool:
        if pixels.shape[:2] != tuple(size_hw):  # imresize: im2uint8, resize, then > 128
            pixels = imresize(pixels.astype(np.uint8) * 255, size_hw) > 128
        return pixels.astype(np.uint8), 1
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ScoringError(
            f"{source}: a map of {pixels.dtype} samples; save probability maps as 8- or 16-bit images"
        )
    first = pixels if pixels.ndim == 2 else pixels[:, :, 0]
    if first.shape != tuple(size_hw):
        first = imresize(first, size_hw)
    return first, int(np.iinfo(pixels.dtype).max)


def _keyed(files: list[Path], key, folder: Path, what: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in files:
        name = key(path.stem)
        if name in found:
            raise ScoringError(
                f"{folder}: {found[name].name} and {path.name} are both the {what} of {name}; "
                "keep one"
            )
        found[name] = path
    return found


def map_key(stem: str) -> str:
    """The truth name a map's stem belongs to (``<name>_prob`` and ``<name>_mask`` -> name)."""
    for suffix in MAP_SUFFIXES:
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def pair_maps(gt_dir: str | os.PathLike, maps_dir: str | os.PathLike) -> tuple[list, list[str]]:
    """Pair truths with maps by name; return ``[(name, truth, map)]`` sorted and the warnings.

    Raises:
        ScoringError: A folder without images, a truth without map, or two files for one name.
    """
    gt_dir, maps_dir = Path(gt_dir), Path(maps_dir)
    truths = _keyed(list_images(gt_dir), strip_mask_suffix, gt_dir, "truth")
    maps = _keyed(list_images(maps_dir), map_key, maps_dir, "map")
    for folder, found in ((gt_dir, truths), (maps_dir, maps)):
        if not found:
            raise ScoringError(f"{folder}: no image files; check the path")
    absent = sorted(set(truths) - set(maps))
    if absent:
        raise ScoringError(
            f"{maps_dir}: {len(absent)} of {len(truths)} truths have no map "
            f"(first: {absent[0]}); give the folder of every map"
        )
    notes = []
    orphans = sorted(set(maps) - set(truths))
    if orphans:
        notes.append(f"{len(orphans)} maps have no truth and are ignored (first: {orphans[0]})")
    return [(name, truths[name], maps[name]) for name in sorted(truths)], notes


def pranet_block(figures: dict[str, float], images: int) -> dict:
    """What ``score --maps`` and ``run`` write under ``"pranet_eval"``: the figures and the count."""
    return dict(figures) | {"images": images}


@dataclass
class MapScores:
    """The result of :func:`score_map_folder`: the 13 figures, the images and the warnings."""

    figures: dict[str, float]
    names: list[str]
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The JSON block: ``{"pranet_eval": {figure: value, ..., "images": n}}``."""
        return {JSON_KEY: pranet_block(self.figures, len(self.names))}


def map_file_figures(truth_path: str | os.PathLike, map_path: str | os.PathLike) -> ImageFigures:
    """Read one truth and its map as main.m does; return the image's figures."""
    truth = read_truth(truth_path)
    levels, top = map_levels(imread_like_matlab(map_path), truth.shape, str(map_path))
    return image_figures(truth, levels, top)


def score_map_folder(
    gt_dir: str | os.PathLike, maps_dir: str | os.PathLike, progress: bool = False
) -> MapScores:
    """Score a folder of probability maps against a folder of truths as ``eval/main.m`` does.

    Args:
        gt_dir: Folder of truths.
        maps_dir: Folder of 8- or 16-bit maps named like the truths.
        progress: Show a progress bar on stderr.
    """
    pairs, notes = pair_maps(gt_dir, maps_dir)
    accumulator = PraNetEval()
    for name, truth_path, map_path in track_scoring(pairs, progress):
        accumulator.add(name, map_file_figures(truth_path, map_path))
    return MapScores(accumulator.compute(), accumulator.names, notes)


def frame_figures(frame: Frame) -> ImageFigures | None:
    """A frame's figures from its truth and probability-map files (None when it has none)."""
    return None if frame.files is None else map_file_figures(*frame.files)


class PraNetSetBlock:
    """The set scorer's accumulator of the figures: the block, or None unless every frame had
    its files (a set without truth files or without saved maps)."""

    def __init__(self) -> None:
        self.evaluation = PraNetEval()
        self.lacking = 0

    def add(self, name: str, figures: ImageFigures | None) -> None:
        """Add one frame's figures (None: the frame had no files)."""
        if figures is None:
            self.lacking += 1
        else:
            self.evaluation.add(name, figures)

    def compute(self) -> dict | None:
        """The ``"pranet_eval"`` block, or None."""
        if self.lacking or not len(self.evaluation):
            return None
        return pranet_block(self.evaluation.compute(), len(self.evaluation))


#: PraNet's eval/main.m figures as a per-frame block of the set scorer (``run --save-prob``).
PRANET_EVAL = FrameConsumer(JSON_KEY, frame_figures, PraNetSetBlock)
