"""Calibration of the post-processing on hand-made masks, and the CLI from training to calibration."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from train_helpers import brp_lite_cli_args, make_pair_folder
from typer.testing import CliRunner

from endobench.train.calibrate import calibrate_model
from endobench.train.pairs import resolve_pairs

SIDE = 64


class BrightnessModel(torch.nn.Module):
    """Predicts probability = red channel / 255: the test decides the probability map pixel by pixel."""

    endobench_cfg = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}

    def forward(self, x):
        p = x[:, :1].clamp(1e-4, 1 - 1e-4)
        return [torch.log(p / (1 - p))]


def _write(folder: Path, name: str, red: np.ndarray, mask: np.ndarray) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    image[..., 0] = red
    cv2.imwrite(str(folder / "images" / f"{name}.png"), image[..., ::-1])
    cv2.imwrite(str(folder / "masks" / f"{name}.png"), mask.astype(np.uint8) * 255)


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("cal")
    train = root / "caltrain"
    for i, side in enumerate((16, 8, 12)):  # smallest polyp: 8 x 8 = 64 of 4096 pixels
        mask = np.zeros((SIDE, SIDE), bool)
        mask[10 : 10 + side, 20 : 20 + side] = True
        _write(train, f"t{i}", mask * 200, mask)
    val = root / "calval"
    # A 16 x 16 polyp: 0.95 in its 14 x 14 core, 0.6 on its own edge, 0.45 on a 2-pixel ring outside.
    mask = np.zeros((SIDE, SIDE), bool)
    mask[20:36, 20:36] = True
    red = np.zeros((SIDE, SIDE), np.uint8)
    red[18:38, 18:38] = 115
    red[mask] = 153
    red[21:35, 21:35] = 242
    _write(val, "v0", red, mask)
    # No polyp, but 100 pixels at 0.8: more than the reference area when counted at confidence 0.5.
    red = np.zeros((SIDE, SIDE), np.uint8)
    red[40:50, 40:50] = 204
    _write(val, "v1", red, np.zeros((SIDE, SIDE), bool))
    return train, val


def test_calibration_chooses_the_thresholds_the_hand_made_maps_call_for(hand_made):
    train, val = hand_made
    train_pairs, _ = resolve_pairs([str(train)])
    val_pairs, _ = resolve_pairs([str(val)])
    grid = {"confidence": (0.5, 0.9), "polarise": (0.3, 0.5, 0.7)}
    result = calibrate_model(BrightnessModel(), SIDE, train_pairs, val_pairs, grid=grid)

    assert result.params["reference_area"] == pytest.approx(64 / 4096)
    # confidence 0.9 clears the polyp-free map (no pixel above it), 0.5 would keep its 100 pixels;
    # polarise 0.5 keeps exactly the square: 0.3 adds the ring, 0.7 drops the square's edge.
    assert result.params["confidence"] == 0.9
    assert result.params["polarise"] == 0.5
    assert result.n_train_masks == 3 and result.n_val == 2
    # > 0.5: the polyp is perfect (Dice 1), the empty image gets 100 false pixels (Dice 0, PPV 0).
    assert result.before["dice"] == pytest.approx(0.5)
    assert result.before["ppv"] == pytest.approx(0.5)
    assert result.after["dice"] == pytest.approx(1.0)
    assert result.after["jaccard"] == pytest.approx(1.0)


def test_overlapping_train_and_validation_data_are_refused(hand_made):
    from endobench.errors import ConfigError

    train, _ = hand_made
    pairs, _ = resolve_pairs([str(train)])
    with pytest.raises(ConfigError, match="disjoint"):
        calibrate_model(BrightnessModel(), SIDE, pairs, pairs[:1])


def test_cli_trains_brp_lite_then_calibrates_its_checkpoint(hand_made, tmp_path):
    """End to end through the command line, with the real model at a tiny size."""
    from endobench.cli import app
    from endobench.models import load_checkpoint

    data = make_pair_folder(tmp_path / "clidata", n=6, side=48)
    out = tmp_path / "run"
    args = brp_lite_cli_args(data, out)
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "best epoch 1" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output and "Traceback" not in again.output

    train, val = hand_made
    calibrated = tmp_path / "calibrated.safetensors"
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(out / "best.safetensors"),
            "--train-data",
            str(train),
            "--val-data",
            str(val),
            "--out",
            str(calibrated),
            "--device",
            "cpu",
            "--dtype",
            "float16",
        ],
    )
    assert result.exit_code == 0, result.output
    tensors, meta = load_checkpoint(calibrated)
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    assert meta["model"] == "brp_lite" and meta["input_size"] == 64
    assert meta["postprocess"]["reference_area"] == pytest.approx(64 / 4096)
    assert set(meta["calibration"]["validation_after"]) == {"dice", "jaccard", "ppv", "recall"}
    assert meta["training"]["best_epoch"] == 1  # the training metadata is kept

    # Without --val-data: the 2 images training held back validate, the other 4 give the area;
    # without --out the checkpoint itself is updated.
    in_place = runner.invoke(
        app,
        ["calibrate", str(out / "best.safetensors"), "--train-data", str(data), "--device", "cpu"],
    )
    assert in_place.exit_code == 0, in_place.output
    _, meta = load_checkpoint(out / "best.safetensors")
    assert (meta["calibration"]["n_val"], meta["calibration"]["n_train_masks"]) == (2, 4)
    assert sorted(meta["training"]["validation_ids"]) == meta["training"]["validation_ids"]
    assert len(meta["training"]["validation_ids"]) == 2
