"""Builders for tiny data set folders in tmp_path, one per layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tifffile


def write_image(path: Path, height: int = 12, width: int = 16, seed: int = 0) -> np.ndarray:
    """Write a random RGB image in the format of ``path``'s suffix; return the RGB array."""
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".tif", ".tiff"):
        tifffile.imwrite(path, rgb, photometric="rgb")
    else:
        assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    return rgb


def write_mask(path: Path, height: int = 12, width: int = 16) -> np.ndarray:
    """Write a 0/255 mask with a filled rectangle; return the boolean truth."""
    truth = np.zeros((height, width), dtype=bool)
    truth[height // 4 : height // 2 + 1, width // 4 : width // 2 + 1] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    values = truth.astype(np.uint8) * 255
    if path.suffix.lower() in (".tif", ".tiff"):
        tifffile.imwrite(path, values)
    else:
        assert cv2.imwrite(str(path), values)
    return truth


@pytest.fixture
def make_pairs() -> Callable[..., list[str]]:
    """``make_pairs(image_dir, mask_dir, stems, image_ext, mask_pattern)``: write pairs."""

    def make(
        image_dir: Path,
        mask_dir: Path,
        stems: list[str],
        image_ext: str = ".png",
        mask_pattern: str = "{stem}.png",
        size: tuple[int, int] = (12, 16),
    ) -> list[str]:
        for index, stem in enumerate(stems):
            write_image(image_dir / f"{stem}{image_ext}", *size, seed=index)
            write_mask(mask_dir / mask_pattern.format(stem=stem), *size)
        return stems

    return make


@pytest.fixture
def polypgen_root(tmp_path: Path, make_pairs) -> Path:
    """A PolypGen-like folder: 2 centres, one positive sequence, two negative sequences."""
    root = tmp_path / "PolypGen2021_MultiCenterData_v3"
    make_pairs(
        root / "data_C1" / "images_C1",
        root / "data_C1" / "masks_C1",
        ["100H0050", "100H0051", "100H0052"],
        ".jpg",
        "{stem}_mask.jpg",
    )
    make_pairs(
        root / "data_C2" / "images_C2",
        root / "data_C2" / "masks_C2",
        ["EndoCV2021_C2_0001", "EndoCV2021_C2_0002"],
        ".jpg",
        "{stem}_mask.jpg",
    )
    seq = root / "sequenceData" / "positive" / "seq1"
    make_pairs(seq / "images_seq1", seq / "masks_seq1", ["seq1_0001"], ".jpg", "{stem}_mask.jpg")
    negatives = root / "sequenceData" / "negativeOnly"
    write_image(negatives / "seq1_neg" / "seq1_neg_0001.jpg", 10, 14)
    write_image(negatives / "seq1_neg" / "seq1_neg_0002.jpg", 10, 14)
    write_image(negatives / "seq2_neg" / "images_seq2_neg" / "seq2_neg_0001.jpg", 10, 14)
    return root


@pytest.fixture
def files() -> SimpleNamespace:
    """``files.image(path, h, w, seed)`` and ``files.mask(path, h, w)`` from above."""
    return SimpleNamespace(image=write_image, mask=write_mask)
