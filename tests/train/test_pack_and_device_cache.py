"""`endobench pack-data`, the device cache of training pairs, and augmentation on the device."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from train_helpers import make_pair_folder
from typer.testing import CliRunner

from endobench.errors import ConfigError
from endobench.train.augment import augment_batch, batch_generator
from endobench.train.packing import pack_training_data
from endobench.train.pairs import (
    CachedPairs,
    DeviceCachedPairs,
    batch_loader,
    load_resized_pair,
    resolve_pairs,
)


def _smooth_pairs(root, n, side=80):
    """Pairs of smooth images (JPEG keeps them within a few grey levels) and disc masks."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir(parents=True)
    ramp = np.linspace(40, 200, side, dtype=np.float32)
    for i in range(n):
        image = np.stack(
            [
                np.broadcast_to(ramp[None, :], (side, side)),
                np.broadcast_to(ramp[:, None], (side, side)),
                np.full((side, side), 90.0 + 10 * i),
            ],
            axis=2,
        ).astype(np.uint8)
        mask = np.zeros((side, side), np.uint8)
        cv2.circle(mask, (side // 2 + i, side // 2), side // 4, 255, -1)
        cv2.imwrite(str(root / "images" / f"s{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"s{i}.png"), mask)
    return root


def test_a_pack_holds_every_pair_resized_as_training_resizes_it(tmp_path):
    data = _smooth_pairs(tmp_path / "pos", n=5)
    frames = tmp_path / "negs" / "seq1_neg"
    frames.mkdir(parents=True)
    cv2.imwrite(str(frames / "seq1_img3.png"), np.full((60, 90, 3), 77, np.uint8))
    record = pack_training_data(tmp_path / "pack", [str(data)], [tmp_path / "negs"], side=64)
    assert record["data"]["pos"]["pairs"] == 5 and record["frames"]["negs"]["frames"] == 1
    assert (tmp_path / "pack" / "negs" / "seq1_neg" / "seq1_img3.jpg").is_file()
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert len(manifest["files"]) == 11
    packed, _ = resolve_pairs([str(tmp_path / "pack" / "pos")])
    original, _ = resolve_pairs([str(data)])
    assert [p.id.split("/")[-1] for p in packed] == [p.id.split("/")[-1] for p in original]
    for a, b in zip(packed, original, strict=True):
        image_a, mask_a = load_resized_pair(a, 64)
        image_b, mask_b = load_resized_pair(b, 64)
        assert np.abs(image_a.astype(int) - image_b).mean() < 2  # the JPEG round trip
        assert ((mask_a > 127) == (mask_b > 127)).mean() > 0.98  # soft edges re-read at > 127
    with pytest.raises(ConfigError, match="not empty"):
        pack_training_data(tmp_path / "pack", [str(data)], side=64)


def test_pack_data_command(tmp_path):
    from endobench.cli import app

    data = make_pair_folder(tmp_path / "pos", n=3, side=48)
    args = ["pack-data", "--out", str(tmp_path / "p"), "--data", str(data), "--size", "32"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "6 files" in result.output
    bad_args = ["pack-data", "--out", str(tmp_path / "q"), "--data", str(data), "--size", "30"]
    bad = CliRunner().invoke(app, bad_args)
    assert bad.exit_code == 2 and "multiple of 32" in bad.output


def test_the_device_cache_yields_the_batches_the_loader_yields():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8)
    masks = rng.integers(0, 255, (6, 8, 8), dtype=np.uint8)
    originals = [np.ones((3, 4), bool) * i for i in range(6)]
    cached = CachedPairs(images, masks, originals)
    batches = [[4, 0, 2], [5, 1]]
    on_device = DeviceCachedPairs(cached, torch.device("cpu"))
    for (a_img, a_mask, a_orig), (b_img, b_mask, b_orig) in zip(
        batch_loader(cached, batches, 0), batch_loader(on_device, batches, 0), strict=True
    ):
        assert torch.equal(a_img, b_img) and torch.equal(a_mask, b_mask)
        assert all(np.array_equal(x, y) for x, y in zip(a_orig, b_orig, strict=True))


def test_augmentation_moves_each_mask_with_its_image_and_repeats_for_the_same_batch():
    torch.manual_seed(0)
    y = (torch.rand(8, 1, 12, 12) > 0.6).float()
    x = torch.cat([y * 3.0, torch.rand(8, 2, 12, 12)], dim=1)
    x1, y1 = augment_batch(x, y, batch_generator(seed=1, epoch=2, batch=3))
    x2, y2 = augment_batch(x, y, batch_generator(seed=1, epoch=2, batch=3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # Channel 0 was 3 x mask: after the same geometry and an affine colour change per image,
    # it is still an affine function of the mask, pixel by pixel.
    for i in range(8):
        values = x1[i, 0][y1[i, 0] > 0.5], x1[i, 0][y1[i, 0] < 0.5]
        assert all(v.numel() == 0 or float(v.max() - v.min()) < 1e-5 for v in values)
    assert y1.sum() == y.sum()
    changed = [not torch.equal(y1[i], y[i]) for i in range(8)]
    assert any(changed)
    x3, _ = augment_batch(x, y, batch_generator(seed=1, epoch=2, batch=4))
    assert not torch.equal(x1, x3)
