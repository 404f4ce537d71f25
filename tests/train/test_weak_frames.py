"""Frames with a polyp and no mask: the frame-level loss, their batches, validation and selection."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from train_helpers import make_pair_folder, tiny_config

import endobench.train.epoch as epoch_module
from endobench.errors import ConfigError, DataError
from endobench.train import train
from endobench.train.batch_mix import TrainingMix, epoch_batches
from endobench.train.epoch import batch_loss
from endobench.train.fold_state import selection_score
from endobench.train.loss import deep_supervision_loss
from endobench.train.recipe import Recipe
from endobench.train.weak_frames import (
    MASKED,
    NEGATIVE,
    WEAK,
    KindSplit,
    frame_logit,
    frame_loss,
    resolve_weak_frames,
)


def _frames(root, names, side=48, seed=5):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        image = rng.integers(0, 90, size=(side, side, 3), dtype=np.uint8)
        cv2.circle(image, (side // 2, side // 2), side // 6, (200, 160, 150), -1)
        cv2.imwrite(str(root / name), image)
    return root


def test_frame_logit_is_the_mean_of_the_top_share():
    logits = torch.arange(200, dtype=torch.float32).view(2, 1, 10, 10)
    # 1 % of 100 pixels rounds to one pixel: the maximum; 5 % is the top five.
    assert frame_logit(logits).tolist() == [99.0, 199.0]
    assert frame_logit(logits, top_share=0.05).tolist() == [97.0, 197.0]


def test_frame_loss_is_the_bce_of_each_outputs_frame_logit_summed():
    torch.manual_seed(0)
    outputs = [torch.randn(3, 1, 8, 8), torch.randn(3, 1, 16, 16)]
    targets = torch.tensor([1.0, 0.0, 1.0])
    # 1 % of 64 pixels is one pixel (the maximum); of 256 pixels, 2.56 rounds to three.
    top = [outputs[0].flatten(1).max(1).values, outputs[1].flatten(1).topk(3).values.mean(1)]
    expected = sum(F.binary_cross_entropy_with_logits(t, targets) for t in top)
    torch.testing.assert_close(frame_loss(outputs, targets), expected)


def test_weak_frames_are_grouped_by_centre_and_prefixed(tmp_path):
    folder = _frames(tmp_path / "weak", ["centre_A_img1.jpg", "centre_B_img7.jpg", "other.png"])
    pairs, described = resolve_weak_frames([folder])
    assert [(p.id, p.sequence, p.mask) for p in pairs] == [
        ("weak:centre_A_img1", "centre_A", None),
        ("weak:centre_B_img7", "centre_B", None),
        ("weak:other", "weak", None),
    ]
    assert described == ["weak: 3 frames (centre_A 1, centre_B 1, weak 1)"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        resolve_weak_frames([tmp_path / "empty"])


def test_each_batch_takes_its_share_of_weak_frames_and_every_positive_once():
    mix = TrainingMix(12, n_real=4, fraction=0.25, n_weak=5, weak_fraction=0.25)
    batches = epoch_batches(mix, 8, seed=1, epoch=2)
    kinds = [mix.kinds(b) for b in batches]
    assert all(k.count(WEAK) == 2 and k.count(NEGATIVE) == 2 for k in kinds)
    positives = sorted(i for b in batches for i in b if i < 12)
    assert positives == list(range(12))
    assert all(mix.weak_start <= i < mix.weak_start + 5 for b in batches for i in b[4:6])
    assert batches == epoch_batches(mix, 8, seed=1, epoch=2)  # (seed, epoch) alone decide
    with pytest.raises(ConfigError, match="leave no positive"):
        epoch_batches(TrainingMix(4, n_real=2, fraction=0.5, n_weak=2, weak_fraction=0.5), 2, 0, 0)


def test_batch_loss_skips_pixel_loss_of_weak_frames_and_adds_the_frame_term():
    torch.manual_seed(1)
    outputs = [torch.randn(4, 1, 8, 8), torch.randn(4, 1, 16, 16)]
    truth = (torch.rand(4, 1, 16, 16) > 0.7).float()
    truth[1] = 0  # a negative
    recipe = Recipe(frame_loss=0.5)
    plain = deep_supervision_loss(outputs, truth)
    torch.testing.assert_close(batch_loss(outputs, truth, None, recipe), plain)
    split = KindSplit.of([MASKED, NEGATIVE, WEAK, MASKED], torch.device("cpu"))
    assert split.pixel.tolist() == [0, 1, 3] and split.framed.tolist() == [1, 2]
    assert split.targets.tolist() == [0.0, 1.0]
    expected = deep_supervision_loss(
        [o[[0, 1, 3]] for o in outputs], truth[[0, 1, 3]]
    ) + 0.5 * frame_loss([o[[1, 2]] for o in outputs], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(batch_loss(outputs, truth, split, recipe), expected)
    # a batch with masks on every image keeps the pixel loss of the whole batch
    all_masked = KindSplit.of([MASKED, NEGATIVE, MASKED, MASKED], torch.device("cpu"))
    assert all_masked.pixel is None


def test_balanced_selection_weighs_found_frames_and_false_alarms():
    row = {"val_dice": 0.8, "val_found_rate": 0.9, "val_fp_rate": 0.1}
    assert selection_score(row, "dice") == 0.8
    assert selection_score(row, "balanced") == pytest.approx(1.6)
    assert selection_score({"val_dice": 0.8, "val_fp_rate": 0.25}, "balanced") == 0.55
    assert selection_score({"val_dice": None}, "balanced") is None
    with pytest.raises(ConfigError, match="--select"):
        Recipe(select="loss").validate()


@pytest.fixture
def weak_run(tmp_path, monkeypatch):
    positives = make_pair_folder(tmp_path / "pos", n=8, side=48)
    weak = _frames(tmp_path / "weak", [f"centre_A_img{i}.png" for i in range(4)])
    val_weak = _frames(tmp_path / "val-weak", ["centre_B_img1.png", "centre_B_img2.png"], seed=9)
    recorded = []
    loss = epoch_module.batch_loss

    def recording(outputs, y, split, recipe):
        recorded.append(None if split is None else list(split.kinds))
        return loss(outputs, y, split, recipe)

    monkeypatch.setattr(epoch_module, "batch_loss", recording)
    recipe = Recipe(size=64, batch_size=4, epochs=1, scales=(1.0,), weak_fraction=0.25)
    config = tiny_config(
        positives,
        tmp_path / "run",
        epochs=1,
        recipe=recipe.replace(select="balanced", augment=True),
        weak_positives=[str(weak)],
        val_positive_frames=[str(val_weak)],
    )
    return config, recorded


def test_a_run_with_weak_frames_trains_them_validates_the_found_share_and_records_it(weak_run):
    config, recorded = weak_run
    result = train(config)
    # 6 training positives, 3 a batch beside one weak frame: two steps, each with one weak frame.
    assert [k.count(WEAK) for k in recorded] == [1, 1]
    row = result.runs[0].history[0]
    assert 0.0 <= row["val_found_rate"] <= 1.0
    from endobench.models.checkpoint import load_checkpoint

    meta = load_checkpoint(config.out / "best.safetensors")[1]
    record = meta["training"]["frame_sets"]
    assert record["n_weak_train"] == 4 and record["n_weak_val"] == 2
    assert meta["validation_metrics"]["n_polyp_frames"] == 2
    assert "select: balanced" in meta["training"]["selection"]
    assert "weak:centre_A_img0" in meta["training"]["trained_ids"]


def test_validation_frames_that_also_train_are_refused(tmp_path):
    positives = make_pair_folder(tmp_path / "pos", n=8, side=48)
    weak = _frames(tmp_path / "weak", ["centre_A_img1.png"])
    config = tiny_config(
        positives,
        tmp_path / "run",
        epochs=1,
        weak_positives=[str(weak)],
        val_positive_frames=[str(weak)],
    )
    with pytest.raises(ConfigError, match="in both --weak-positives and --val-positive-frames"):
        train(config)
