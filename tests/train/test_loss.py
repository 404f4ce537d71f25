"""The structure loss against a direct, loop-level computation on small tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from endobench.errors import ConfigError
from endobench.train.loss import boundary_weights, deep_supervision_loss, structure_loss


def _box_mean(truth: np.ndarray, k: int = 31) -> np.ndarray:
    """avg_pool2d(k, stride 1, padding k//2) written out: zero padding, always divided by k*k."""
    h, w = truth.shape
    r = k // 2
    padded = np.zeros((h + 2 * r, w + 2 * r))
    padded[r : r + h, r : r + w] = truth
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = padded[i : i + k, j : j + k].sum() / (k * k)
    return out


def _direct_loss(logits: np.ndarray, truth: np.ndarray, weighted_bce: bool = True) -> float:
    """Per image: weighted BCE + weighted IoU; mean over the batch (PraNet's definition)."""
    per_image = []
    all_bce = []
    for z, g in zip(logits[:, 0], truth[:, 0], strict=True):
        w = 1 + 5 * np.abs(_box_mean(g) - g)
        p = 1 / (1 + np.exp(-z))
        bce = -(g * np.log(p) + (1 - g) * np.log(1 - p))
        all_bce.append(bce)
        wbce = (w * bce).sum() / w.sum()
        inter = (w * p * g).sum()
        union = (w * (p + g)).sum()
        wiou = 1 - (inter + 1) / (union - inter + 1)
        per_image.append((wbce if weighted_bce else 0.0) + wiou)
    loss = float(np.mean(per_image))
    if not weighted_bce:
        loss += float(np.mean(all_bce))
    return loss


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(3)
    truth = torch.zeros(2, 1, 12, 14, dtype=torch.float64)
    truth[0, 0, 3:8, 4:10] = 1.0
    truth[1, 0, 6:12, 0:5] = 1.0
    truth[1, 0, 5, 0:5] = 0.5  # a soft edge as multi-scale resizing produces
    logits = torch.randn(2, 1, 12, 14, generator=gen, dtype=torch.float64) * 2
    return logits, truth


def test_boundary_weights_match_a_direct_box_filter(batch):
    _, truth = batch
    expected = 1 + 5 * np.abs(_box_mean(truth[1, 0].numpy()) - truth[1, 0].numpy())
    np.testing.assert_allclose(boundary_weights(truth)[1, 0].numpy(), expected, rtol=1e-12)
    # Far from any edge inside a large uniform region the weight is 1; at an edge it is larger.
    assert boundary_weights(truth)[0, 0, 5, 6] > 1.0


def test_structure_loss_matches_direct_computation(batch):
    logits, truth = batch
    got = structure_loss(logits, truth).item()
    assert math.isclose(got, _direct_loss(logits.numpy(), truth.numpy()), rel_tol=1e-9)


def test_pranet_code_mode_uses_unweighted_mean_bce(batch):
    logits, truth = batch
    got = structure_loss(logits, truth, bce="pranet_code").item()
    assert math.isclose(
        got, _direct_loss(logits.numpy(), truth.numpy(), weighted_bce=False), rel_tol=1e-9
    )
    assert not math.isclose(got, structure_loss(logits, truth).item(), rel_tol=1e-6)


def test_unknown_bce_mode_is_a_config_error(batch):
    with pytest.raises(ConfigError):
        structure_loss(*batch, bce="focal")


def test_deep_supervision_sums_outputs_resized_to_the_truth(batch):
    logits, truth = batch
    coarse = logits[:, :, ::2, ::2].contiguous()
    total = deep_supervision_loss([coarse, logits], truth).item()
    up = F.interpolate(coarse, size=truth.shape[-2:], mode="bilinear", align_corners=False)
    expected = _direct_loss(up.numpy(), truth.numpy()) + _direct_loss(logits.numpy(), truth.numpy())
    assert math.isclose(total, expected, rel_tol=1e-6)


def test_a_perfect_confident_prediction_scores_near_zero(batch):
    _, truth = batch
    hard = (truth > 0.75).double()
    assert structure_loss((hard * 2 - 1) * 30, hard).item() < 1e-6
    assert structure_loss((hard * 2 - 1) * -30, hard).item() > 10
