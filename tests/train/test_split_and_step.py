"""How training data are split (k-fold, held-back share) and one real optimisation step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import TinyNet

from endobench.errors import ConfigError
from endobench.train.loss import deep_supervision_loss
from endobench.train.pairs import Pair, split_pairs


def _pairs(n: int) -> list[Pair]:
    return [
        Pair(f"set/img{i:03d}", Path(f"img{i:03d}.png"), Path(f"m{i:03d}.png")) for i in range(n)
    ]


def test_kfold_runs_are_disjoint_and_cover_the_data():
    pairs = _pairs(23)
    runs = split_pairs(pairs, folds=5, seed=7)
    assert [fold for fold, _, _ in runs] == [0, 1, 2, 3, 4]
    all_ids = {p.id for p in pairs}
    val_union = []
    for _, train, val in runs:
        train_ids, val_ids = {p.id for p in train}, {p.id for p in val}
        assert not train_ids & val_ids
        assert train_ids | val_ids == all_ids
        assert len(val) in (4, 5)
        val_union.extend(val_ids)
    assert sorted(val_union) == sorted(all_ids)  # each pair validates exactly once


def test_single_fold_and_input_order_independence():
    pairs = _pairs(20)
    ((fold, train, val),) = split_pairs(pairs, folds=5, fold=3, seed=1)
    ((_, train_r, val_r),) = split_pairs(list(reversed(pairs)), folds=5, fold=3, seed=1)
    assert fold == 3 and {p.id for p in val} == {p.id for p in val_r} and len(train) == 16
    assert {p.id for p in val} != {p.id for p in split_pairs(pairs, folds=5, fold=3, seed=2)[0][2]}
    with pytest.raises(ConfigError):
        split_pairs(pairs, folds=5, fold=5)
    with pytest.raises(ConfigError):
        split_pairs(pairs, fold=0)


def test_held_back_fraction_is_seeded_disjoint_and_covering():
    pairs = _pairs(50)
    ((_, train, val),) = split_pairs(pairs, val_fraction=0.1, seed=0)
    ((_, _, val_shuffled),) = split_pairs(pairs[25:] + pairs[:25], val_fraction=0.1, seed=0)
    assert len(val) == 5 and len(train) == 45
    assert {p.id for p in val} == {p.id for p in val_shuffled}
    assert {p.id for p in train} | {p.id for p in val} == {p.id for p in pairs}
    assert not {p.id for p in train} & {p.id for p in val}
    with pytest.raises(ConfigError):
        split_pairs(pairs, val_fraction=1.5)


def test_one_adam_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = TinyNet().to(memory_format=torch.channels_last)
    model.train()
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.zeros(2, 1, 64, 64)
    y[:, :, 16:48, 20:44] = 1.0
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(1)  # the same dropout masks for both evaluations
    before = deep_supervision_loss(model(x), y)
    optimizer.zero_grad()
    before.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)
    optimizer.step()
    torch.manual_seed(1)
    with torch.no_grad():
        after = deep_supervision_loss(model(x), y)
    assert after.item() < before.item() - 1e-3


@pytest.mark.parametrize("shape", [(300, 420, 3), (40, 50, 3)])
def test_training_inputs_are_resized_exactly_as_the_predictor_resizes(shape):
    import numpy as np

    from endobench.predictor import Preprocess
    from endobench.train.pairs import resize_image

    image = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    expected = (
        Preprocess(96, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)).to_array(image).transpose(1, 2, 0) * 255
    )
    np.testing.assert_allclose(resize_image(image, 96).astype(np.float32), expected, atol=1e-3)
