"""Negative-aware training: the loss on an all-background target, crops, sequence splits, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from endobench.errors import ConfigError
from endobench.train.batch_mix import TrainingMix, epoch_batches, negatives_per_batch
from endobench.train.loss import boundary_weights, deep_supervision_loss, structure_loss
from endobench.train.negative_mix import choose_crop, split_by_sequence
from endobench.train.pairs import Pair, load_resized_pair
from endobench.train.recipe import Recipe


def test_structure_loss_on_an_all_background_target_is_bce_plus_a_soft_area():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 40, 40) * 3
    truth = torch.zeros(2, 1, 40, 40)
    # An empty truth has no boundary: every weight is exactly 1 (no division by a zero sum).
    assert torch.equal(boundary_weights(truth), torch.ones_like(truth))
    loss = structure_loss(logits, truth)
    prob = torch.sigmoid(logits)
    # Weighted BCE = plain mean BCE against 0; weighted IoU = 1 - 1 / (sum p + 1) = sum p / (sum p + 1).
    bce = torch.nn.functional.softplus(logits).mean(dim=(1, 2, 3))
    area = prob.sum(dim=(1, 2, 3))
    expected = (bce + area / (area + 1)).mean()
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_all_background_target_pushes_every_logit_down_and_is_near_zero_when_confident():
    logits = torch.zeros(1, 1, 16, 16, requires_grad=True)
    deep_supervision_loss([logits], torch.zeros(1, 1, 16, 16)).backward()
    assert (logits.grad > 0).all()  # gradient descent lowers every logit
    confident = torch.full((1, 1, 16, 16), -30.0)
    assert deep_supervision_loss([confident], torch.zeros(1, 1, 16, 16)).item() < 1e-9


def _mask(height=100, width=200, box=(80, 30, 120, 60)):
    mask = np.zeros((height, width), bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.mark.parametrize("seed", range(40))
def test_crops_keep_the_aspect_ratio_and_never_touch_the_dilated_polyp_box(seed):
    mask = _mask()
    box = choose_crop(mask, np.random.default_rng(seed), min_scale=0.3, margin=0.05)
    assert box is not None
    x0, y0, x1, y1 = box
    assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1 <= 100
    assert x1 - x0 >= int(0.3 * 200) and y1 - y0 >= int(0.3 * 100)
    assert (x1 - x0) / 200 == pytest.approx((y1 - y0) / 100, abs=0.02)
    grown = (80 - 10, 30 - 10, 120 + 10, 60 + 10)  # 5 % of the longer side is 10 pixels
    disjoint = x1 <= grown[0] or x0 >= grown[2] or y1 <= grown[1] or y0 >= grown[3]
    assert disjoint


def test_no_crop_where_the_polyp_leaves_no_room_or_there_is_none():
    big = _mask(box=(30, 20, 170, 80))
    assert choose_crop(big, np.random.default_rng(0), min_scale=0.3) is None
    assert choose_crop(np.zeros((50, 50), bool), np.random.default_rng(0)) is None


def test_a_crop_pair_loads_its_box_resized_with_an_empty_target(tmp_path):
    import cv2

    image = np.zeros((60, 90, 3), np.uint8)
    image[:, :30] = (200, 10, 10)  # the left third is red (RGB)
    cv2.imwrite(str(tmp_path / "a.png"), image[..., ::-1])
    pair = Pair("set/a#crop", tmp_path / "a.png", None, crop=(0, 0, 30, 20))
    resized, target = load_resized_pair(pair, 32)
    assert resized.shape == (32, 32, 3) and (resized == (200, 10, 10)).all()
    assert target.shape == (32, 32) and not target.any()


def _negatives(sizes: dict[str, int]) -> list[Pair]:
    return [
        Pair(f"neg/{seq}/{i}", Path(f"{seq}_{i}.jpg"), None, sequence=seq)
        for seq, n in sizes.items()
        for i in range(n)
    ]


def test_negatives_split_by_whole_sequences():
    pairs = _negatives({f"seq{k}": 3 + k for k in range(8)})
    train, val = split_by_sequence(pairs, val_share=0.25, seed=1)
    train_seqs, val_seqs = {p.sequence for p in train}, {p.sequence for p in val}
    assert len(val_seqs) == 2 and not train_seqs & val_seqs
    assert len(train) + len(val) == len(pairs)
    assert split_by_sequence(pairs, val_share=0.25, seed=1) == (train, val)  # seeded
    # k-fold over sequences: every sequence validates in exactly one fold.
    folds = [split_by_sequence(pairs, folds=4, fold=f, seed=0)[1] for f in range(4)]
    assert sorted(p.id for v in folds for p in v) == sorted(p.id for p in pairs)
    # One sequence cannot be split: all of it trains.
    single = _negatives({"only": 5})
    assert split_by_sequence(single, val_share=0.5) == (single, [])
    assert split_by_sequence(pairs, val_share=None) == (pairs, [])


def test_negatives_per_batch():
    assert negatives_per_batch(8, 0.25) == 2
    assert negatives_per_batch(2, 0.1) == 1  # at least one
    assert negatives_per_batch(4, 0.9) == 3  # at most batch - 1
    assert negatives_per_batch(1, 0.0) == 0
    with pytest.raises(ConfigError, match="at least 2 images per batch"):
        negatives_per_batch(1, 0.25)


def test_batches_without_negatives_are_the_plain_recipe_batches():
    sampler = DistributedSampler(range(10), num_replicas=1, rank=0, shuffle=True, seed=3)
    sampler.set_epoch(2)
    order = list(sampler)
    plain = [order[i : i + 4] for i in range(0, 10, 4)]
    assert epoch_batches(TrainingMix(10), 4, seed=3, epoch=2) == plain
    assert epoch_batches(TrainingMix(10, n_real=5, fraction=0.0), 4, seed=3, epoch=2) == plain


def test_mixed_batches_hold_every_positive_once_and_alternate_real_frames_and_crops():
    mix = TrainingMix(n_positive=12, n_real=3, n_crops=20, fraction=0.25)
    batches = epoch_batches(mix, 8, seed=0, epoch=1)
    assert [len(b) for b in batches] == [8, 8]
    positives = sorted(i for b in batches for i in b if i < 12)
    assert positives == list(range(12))
    negatives = [i for b in batches for i in b[6:]]
    kinds = ["real" if 12 <= i < 15 else "crop" for i in negatives]
    assert kinds == ["real", "crop", "real", "crop"]
    assert all(i >= 12 for i in negatives)
    assert epoch_batches(mix, 8, seed=0, epoch=1) == batches  # depends on (seed, epoch) only
    assert epoch_batches(mix, 8, seed=0, epoch=2) != batches
    # A small pool repeats only after each of its frames was used once.
    many = epoch_batches(TrainingMix(30, n_real=3, fraction=0.5), 4, seed=0, epoch=1)
    real = [i for b in many for i in b[2:]]
    assert sorted(real[:3]) == [30, 31, 32] and sorted(real[3:6]) == [30, 31, 32]


def test_recipe_checks_the_negative_fraction():
    assert Recipe().negative_fraction == 0.25
    assert Recipe().replace(negative_fraction=0.0).negative_fraction == 0.0
    with pytest.raises(ConfigError, match="--negative-fraction 1.0"):
        Recipe().replace(negative_fraction=1.0)


def test_the_negatives_line_says_what_trains_and_validates():
    from types import SimpleNamespace

    from endobench.train.negative_mix import describe_mix

    plan = SimpleNamespace(
        negative_train=_negatives({"s1": 2, "s2": 1}), negative_val=_negatives({"s3": 4})
    )
    line = describe_mix(plan, TrainingMix(10, n_real=3, n_crops=5, fraction=0.25), 8)
    assert line == (
        "negatives: 3 frames of 2 sequences and 5 crops train (2 of every 8 images), "
        "4 frames of 1 sequences validate"
    )
    assert describe_mix(SimpleNamespace(), TrainingMix(10), 8) is None
