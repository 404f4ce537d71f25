"""Context swaps: view boxes, view crops, framed positives and their share of the batches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from endobench.errors import ConfigError
from endobench.train.batch_mix import TrainingMix, epoch_batches
from endobench.train.frame_context import (
    framed_order,
    framed_positives,
    view_box,
    view_boxes,
    view_crops,
)
from endobench.train.pairs import Pair, load_resized_pair, paste_in_frame
from endobench.train.recipe import Recipe


def _video_frame(height=108, width=192, view=(60, 4, 180, 104), panel=True):
    """A synthetic 16:9 frame: black, a lit view box, a short bright side panel with text."""
    frame = np.zeros((height, width, 3), np.uint8)
    x0, y0, x1, y1 = view
    frame[y0:y1, x0:x1] = (180, 90, 80)
    if panel:
        frame[70:100, 5:40] = (40, 180, 140)  # a scope graphic, lower third of the panel
        frame[10:14, 5:30] = 255  # a line of text
    return frame


def test_the_view_box_leaves_out_borders_text_and_the_side_panel():
    assert view_box(_video_frame()) == (60, 4, 180, 104)


def test_a_frame_that_is_all_view_has_no_context_and_a_black_one_no_view():
    full = np.full((100, 120, 3), 150, np.uint8)
    full[:3] = 0  # a thin border leaves far less than 10 % outside the view
    assert view_box(full) is None
    assert view_box(np.zeros((50, 80, 3), np.uint8)) is None


def _write(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture()
def files(tmp_path):
    frames = [_write(tmp_path / f"neg{i}.png", _video_frame()) for i in range(3)]
    image = np.zeros((40, 50, 3), np.uint8)
    image[:] = (10, 200, 10)
    mask = np.zeros((40, 50), np.uint8)
    mask[10:30, 20:40] = 255
    _write(tmp_path / "pos.png", image)
    cv2.imwrite(str(tmp_path / "pos_mask.png"), mask)
    negatives = [Pair(f"n{i}", f, None, sequence="s") for i, f in enumerate(frames)]
    positive = Pair("p", tmp_path / "pos.png", tmp_path / "pos_mask.png")
    return negatives, positive


def test_view_crops_and_framed_positives_are_deterministic_pairs(files):
    negatives, positive = files
    boxes = view_boxes(negatives)
    assert set(boxes) == {"n0", "n1", "n2"}
    crops = view_crops(negatives, boxes)
    assert [c.id for c in crops] == ["n0#view", "n1#view", "n2#view"]
    assert all(c.mask is None and c.crop == (60, 4, 180, 104) for c in crops)
    framed = framed_positives([positive], negatives, boxes, seed=0)
    assert framed == framed_positives([positive], negatives, boxes, seed=0)
    assert framed[0].id == "p#framed" and framed[0].mask == positive.mask
    donors = {framed_positives([positive], negatives, boxes, s)[0].frame[0] for s in range(20)}
    assert len(donors) > 1  # the seed chooses the donor
    assert framed_positives([positive], negatives, {}, seed=0) == []


def test_paste_places_the_image_and_its_mask_in_the_view_box():
    donor = _video_frame()
    image = np.full((40, 50, 3), 7, np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[:20, :25] = True  # the top-left quarter
    framed, framed_mask = paste_in_frame(image, mask, donor, (60, 4, 180, 104))
    assert framed.shape == donor.shape and framed_mask.shape == donor.shape[:2]
    assert (framed[4:104, 60:180] == 7).all()
    assert np.array_equal(framed[:, :60], donor[:, :60])  # the panel stays
    ys, xs = np.nonzero(framed_mask)
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (60, 120, 4, 54)


def test_a_framed_pair_loads_framed_and_its_target_follows(files):
    negatives, positive = files
    boxes = view_boxes(negatives)
    framed = framed_positives([positive], negatives, boxes, seed=0)[0]
    image, mask = load_resized_pair(framed, 64)
    assert image.shape == (64, 64, 3) and mask.shape == (64, 64)
    plain_image, plain_mask = load_resized_pair(positive, 64)
    assert 0 < (mask > 127).sum() < (plain_mask > 127).sum()  # smaller: the view is part of it
    assert image[40, 5].tolist() == [0, 0, 0] or image[40, 5].sum() < 60  # black border kept


def test_a_share_of_the_positive_slots_takes_the_framed_version():
    order = list(range(1000))
    swapped = framed_order(order, 5000, 0.25, (0, 1, 0, 2))
    framed = [i for i in swapped if i >= 5000]
    assert 0.2 < len(framed) / 1000 < 0.3
    assert sorted(i - 5000 if i >= 5000 else i for i in swapped) == order  # each positive once
    assert swapped == framed_order(order, 5000, 0.25, (0, 1, 0, 2))
    assert swapped != framed_order(order, 5000, 0.25, (0, 2, 0, 2))  # a new draw per epoch


def test_mixed_batches_draw_view_crops_with_the_real_frames_and_crops_after_them():
    # 16 positives, 4 real frames, 4 view crops, 6 crops, 16 framed positives.
    mix = TrainingMix(16, 4, 6, 0.25, n_views=4, n_framed=16, frame_share=0.5)
    assert mix.framed_start == 30
    batches = epoch_batches(mix, 4, seed=0, epoch=0)
    real = {i for b in batches for i in b if 16 <= i < 24}
    crops = {i for b in batches for i in b if 24 <= i < 30}
    positives = [i for b in batches for i in b if i < 16 or i >= 30]
    assert real and crops
    assert sorted(i - 30 if i >= 30 else i for i in positives) == list(range(16))
    assert any(i >= 30 for i in positives) and any(i < 16 for i in positives)
    off = TrainingMix(16, 4, 6, 0.25)
    assert all(i < 30 for b in epoch_batches(off, 4, seed=0, epoch=0) for i in b)


def test_recipe_checks_the_frame_share():
    assert Recipe().frame_share == 0.0  # off unless asked for: see docs/training.md
    with pytest.raises(ConfigError, match="--frame-share"):
        Recipe().replace(frame_share=1.5)


def test_freeze_norm_keeps_batchnorm_statistics_while_the_rest_trains():
    import torch

    from endobench.train.epoch import training_mode

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))

    class State:
        recipe = Recipe(freeze_norm=True)

    State.net = net
    training_mode(State)
    assert net.training and net[0].training and not net[1].training
    before = net[1].running_mean.clone()
    net(torch.randn(2, 3, 8, 8) + 5).sum().backward()
    assert torch.equal(net[1].running_mean, before)
    assert net[1].weight.grad is not None  # scale and shift still train
    State.recipe = Recipe()
    training_mode(State)
    assert net[1].training
