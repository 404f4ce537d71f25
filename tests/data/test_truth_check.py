"""The truth rule: masks (grey, two clusters near 0 and 255, JPEG edge noise allowed) pass;
photographs and colour images given as truths are refused naming the file; the real masks of
Kvasir-SEG and CVC-ClinicDB all pass and their images are all refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from endobench.data import (
    decode_mask_channel,
    mask_file_problem,
    open_dataset,
    read_mask,
    read_mask_channel,
)
from endobench.data.truth_check import NotAMaskError, truth_problem
from endobench.errors import DataError

PHOTO = "looks like a photograph, not a mask"


def _disc(side: int = 200) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side]
    return (((yy - side / 2) ** 2 + (xx - side / 3) ** 2) < (side / 4) ** 2).astype(np.uint8) * 255


def _photo(side: int = 200, seed: int = 0) -> np.ndarray:
    """A smooth colour picture (BGR): gradients with texture, as an endoscopy frame."""
    yy, xx = np.mgrid[:side, :side].astype(np.float32) / side
    noise = np.random.default_rng(seed).normal(0, 12, (side, side, 3))
    bgr = np.stack([60 + 80 * yy, 90 + 100 * xx, 140 + 90 * (1 - yy)], axis=2) + noise
    return np.clip(bgr, 0, 255).astype(np.uint8)


def test_binary_jpeg_and_tiff_masks_pass(tmp_path):
    disc = _disc()
    cv2.imwrite(str(tmp_path / "m.jpg"), np.dstack([disc] * 3), [cv2.IMWRITE_JPEG_QUALITY, 60])
    cv2.imwrite(str(tmp_path / "m.png"), disc)
    tifffile.imwrite(tmp_path / "m.tif", disc.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((40, 50), np.uint8))
    for name in ("m.jpg", "m.png", "m.tif", "empty.png"):
        path = tmp_path / name
        assert mask_file_problem(path) is None, name
        np.testing.assert_array_equal(read_mask(path, truth=True), read_mask(path))
        np.testing.assert_array_equal(read_mask_channel(path, truth=True), read_mask_channel(path))
    # The JPEG really carries edge noise, and the rule allows it.
    raw = cv2.imread(str(tmp_path / "m.jpg"), cv2.IMREAD_UNCHANGED)
    assert np.any((raw > 0) & (raw < 255))


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_photograph_as_truth_is_refused_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"frame{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, _photo()[:, :, ::-1], photometric="rgb")
    else:
        cv2.imwrite(str(path), _photo())
    for read in (read_mask, read_mask_channel):
        with pytest.raises(NotAMaskError) as info:
            read(path, truth=True)
        message = str(info.value)
        assert "\n" not in message and message.startswith(f"{path}: {PHOTO}")
        assert "give the truth masks, not the images" in message
    with pytest.raises(NotAMaskError, match=PHOTO):
        decode_mask_channel(path.read_bytes(), "member.png", truth=True)
    assert mask_file_problem(path)[0] == "not a mask"
    # Read as a prediction (not a truth), the file is not judged.
    assert read_mask_channel(path).shape == (200, 200)


def test_grey_photograph_and_pure_colour_image_are_refused(tmp_path):
    grey = cv2.cvtColor(_photo(), cv2.COLOR_BGR2GRAY)
    assert truth_problem(grey).startswith(PHOTO)
    red = np.zeros((100, 100, 3), np.uint8)
    red[20:70, 20:70, 2] = 255  # a red polyp on black: the toolkit reads channel 0 (blue) = 0
    cv2.imwrite(str(tmp_path / "red.png"), red)
    with pytest.raises(NotAMaskError, match="is a colour image, not a grey mask") as info:
        read_mask_channel(tmp_path / "red.png", truth=True)
    assert "save the truth in grey" in str(info.value)


def test_unreadable_truth_stays_unreadable(tmp_path):
    path = tmp_path / "m.png"
    path.write_bytes(b"not an image")
    kind, message = mask_file_problem(path)
    assert kind == "unreadable" and str(path) in message


def test_open_dataset_refuses_or_skips_photographs_as_truths(tmp_path):
    for folder in ("images", "masks"):
        (tmp_path / "set" / folder).mkdir(parents=True)
    for stem in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / "set" / "images" / f"{stem}.png"), _photo(seed=ord(stem)))
        cv2.imwrite(str(tmp_path / "set" / "masks" / f"{stem}.png"), _disc())
    cv2.imwrite(str(tmp_path / "set" / "masks" / "b.png"), _photo(seed=9))
    with pytest.raises(DataError, match=f"not a mask: masks/b.png: {PHOTO}"):
        open_dataset(tmp_path / "set", check_files=True)
    with pytest.warns(UserWarning, match="not a mask: masks/b.png"):
        dataset = open_dataset(tmp_path / "set", on_problem="skip")
    assert [sample.name for sample in dataset] == ["a", "c"]
    assert dataset.skipped[0].startswith("not a mask: masks/b.png")
    photo_truth = replace(dataset.samples[0], mask=tmp_path / "set" / "masks" / "b.png")
    with pytest.raises(NotAMaskError):
        photo_truth.read_mask()


def _problems(paths: list[Path]) -> list:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(mask_file_problem, paths))


@pytest.mark.slow
@pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB")
def test_every_real_mask_passes_and_every_real_image_is_refused(shared_data):
    for name, count in (("Kvasir-SEG", 1000), ("CVC-ClinicDB", 612)):
        masks = sorted((shared_data / name / "masks").iterdir())
        images = sorted((shared_data / name / "images").iterdir())
        assert len(masks) == len(images) == count
        assert _problems(masks) == [None] * count
        refused = _problems(images[::4])  # every image was checked once; a quarter here
        assert all(p is not None and p[0] == "not a mask" and PHOTO in p[1] for p in refused)
