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
    grid = {"area_factors": (1,), "confidence": (0.5, 0.9), "polarise": (0.3, 0.5, 0.7)}
    result = calibrate_model(BrightnessModel(), SIDE, train_pairs, val_pairs, grid=grid)

    assert result.params["reference_area"] == pytest.approx(64 / 4096)
    # confidence 0.9 clears the polyp-free map (no pixel above it), 0.5 would keep its 100 pixels
    # (a false-positive frame, over the 0.05 budget); polarise 0.5 keeps exactly the square: 0.3
    # adds the ring, 0.7 drops the square's edge.
    assert result.params["confidence"] == 0.9
    assert result.params["polarise"] == 0.5
    # v1's empty truth makes it a negative frame: Dice is over the positive frame v0.
    assert result.n_train_masks == 3 and result.n_val == 1 and result.n_negatives == 1
    assert result.before["dice"] == pytest.approx(1.0)
    assert result.trade_off.plain_fp_rate == 1.0 and result.trade_off.chosen.fp_rate == 0.0
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
    assert set(meta["calibration"]["validation_after"]) == {
        "dice",
        "jaccard",
        "ppv",
        "recall",
        "fp_frame_rate",
    }
    assert meta["training"]["best_epoch"] == 1  # the training metadata is kept

    # With negatives: the trade-off table is printed and plotted, the budget recorded.
    negatives = tmp_path / "negs"
    negatives.mkdir()
    for i in range(3):
        cv2.imwrite(str(negatives / f"n{i}.png"), np.full((SIDE, SIDE, 3), 40 * i, np.uint8))
    with_negatives = runner.invoke(
        app,
        ["calibrate", str(out / "best.safetensors"), "--train-data", str(train)]
        + ["--val-data", str(val), "--negatives", str(negatives), "--max-fp-rate", "1"]
        + ["--out", str(tmp_path / "neg.safetensors"), "--device", "cpu"],
    )
    assert with_negatives.exit_code == 0, with_negatives.output
    assert "post-processing trade-off" in with_negatives.output
    assert "chosen" in with_negatives.output
    assert (tmp_path / "neg.calibration.png").is_file()
    _, meta = load_checkpoint(tmp_path / "neg.safetensors")
    assert meta["calibration"]["max_fp_rate"] == 1.0
    assert meta["calibration"]["n_negative_frames"] == 3 + 1  # the folder and calval's empty mask
    # The stream's temporal filter, chosen on the folder's sequence, goes with the weights.
    assert set(meta["temporal_filter"]) == {"k", "n", "m"}
    assert meta["calibration"]["temporal_filter"]["n_sequences"] == 1
    assert "temporal filter for `endobench stream`" in with_negatives.output
    from endobench.models import create_model

    calibrated = create_model(meta["model"], weights=str(tmp_path / "neg.safetensors"))
    assert calibrated.endobench_cfg["temporal_filter"] == meta["temporal_filter"]
    make_pair_folder(tmp_path / "kvasir_test", n=2, side=48)
    refused = runner.invoke(
        app,
        ["calibrate", str(out / "best.safetensors"), "--train-data", str(train)]
        + ["--val-data", str(tmp_path / "kvasir_test"), "--device", "cpu"],
    )
    assert refused.exit_code == 2 and "test set" in refused.output

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


def _square(side: int, at: int = 10) -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), bool)
    mask[at : at + side, at : at + side] = True
    return mask


@pytest.fixture(scope="module")
def operating_point_data(tmp_path_factory):
    """Positives p0 (24 x 24 at 0.95) and p1 (16 x 16 at 0.65); negatives n0 (300 pixels at 0.83,
    more than p1's area) and n1 (dark)."""
    root = tmp_path_factory.mktemp("opoint")
    train, val, negs = root / "optrain", root / "opval", root / "opnegs"
    for i, side in enumerate((8, 12)):  # smallest polyp: 64 of 4096 pixels
        _write(train, f"t{i}", _square(side) * 200, _square(side))
    _write(val, "p0", _square(24) * 242, _square(24))
    _write(val, "p1", _square(16, at=30) * 166, _square(16, at=30))
    negs.mkdir()
    n0 = np.zeros((SIDE, SIDE, 3), np.uint8)
    n0[5:20, 5:25, 0] = 212
    cv2.imwrite(str(negs / "n0.png"), n0[..., ::-1])
    cv2.imwrite(str(negs / "n1.png"), np.zeros((SIDE, SIDE, 3), np.uint8))
    return train, val, negs


def _probability(path: Path) -> np.ndarray:
    red = cv2.imread(str(path))[..., 2].astype(np.float32) / 255
    return np.clip(red, 1e-4, 1 - 1e-4)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(0.0, (64 / 4096, 0.9, 0.3, 0.5)), (0.5, (64 / 4096, 0.3, 0.3, 1.0))],
)
def test_the_budget_decides_between_dice_and_false_positive_frames(
    operating_point_data, budget, expected
):
    from endobench.metrics import mask_dice
    from endobench.models.postprocess import postprocess
    from endobench.train.negative_mix import resolve_negatives

    train, val, negs = operating_point_data
    train_pairs, _ = resolve_pairs([str(train)])
    val_pairs, _ = resolve_pairs([str(val)])
    neg_pairs, _ = resolve_negatives([negs])
    grid = {"area_factors": (1, 2, 8), "confidence": (0.3, 0.9), "polarise": (0.3, 0.7)}
    result = calibrate_model(
        BrightnessModel(),
        SIDE,
        train_pairs,
        val_pairs,
        negative_pairs=neg_pairs,
        max_fp_rate=budget,
        grid=grid,
    )
    chosen = result.trade_off.chosen
    area, confidence, polarise, dice = expected
    assert chosen.reference_area == pytest.approx(area)
    assert (chosen.confidence, chosen.polarise) == (confidence, polarise)
    assert chosen.dice == pytest.approx(dice) and chosen.fp_rate <= budget

    # Every candidate's figures are what the real post-processing and the one Dice give.
    positives = [(_probability(p.image), cv2.imread(str(p.mask), 0) > 127) for p in val_pairs]
    negatives = [_probability(p.image) for p in neg_pairs]
    assert len(result.trade_off.candidates) == 3 * 2 * 2
    for c in result.trade_off.candidates:
        written = [postprocess(prob, **c.params) for prob, _ in positives]
        dices = [
            mask_dice(mask, truth) for mask, (_, truth) in zip(written, positives, strict=True)
        ]
        assert c.dice == pytest.approx(np.mean(dices), abs=1e-12)
        assert c.sensitivity == np.mean([mask.any() for mask in written])
        assert c.fp_rate == np.mean([postprocess(prob, **c.params).any() for prob in negatives])
    assert result.after["dice"] == pytest.approx(dice)


def test_no_candidate_within_the_budget_is_a_one_line_error_after_the_plot(
    operating_point_data, tmp_path
):
    from endobench.cli import app
    from endobench.models import create_model, save_checkpoint

    train, val, _ = operating_point_data
    bright = tmp_path / "bright"
    bright.mkdir()
    cv2.imwrite(str(bright / "all.png"), np.full((SIDE, SIDE, 3), 255, np.uint8))
    # Zero weights and large biases make the network call every pixel of every frame a polyp,
    # whatever its random initialisation (large biases alone did not, on some draws).
    model = create_model("brp_lite", pretrained_backbone=False)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("weight"):
                tensor.zero_()
            elif name.endswith("bias"):
                tensor.fill_(10.0)
    weights = tmp_path / "w.safetensors"
    save_checkpoint(weights, model, {"model": "brp_lite", "input_size": 64})
    plot = tmp_path / "curve.png"
    args = ["calibrate", str(weights), "--train-data", str(train), "--val-data", str(val)]
    args += ["--negatives", str(bright), "--max-fp-rate", "0", "--plot", str(plot)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert "within --max-fp-rate 0" in result.output and "Traceback" not in result.output
    assert plot.is_file()


def test_a_budget_of_zero_gets_a_note_not_a_division_by_zero():
    from endobench.train.operating_point import coarse_budget_note

    assert (
        coarse_budget_note(36, 0.0) == "note: a budget of 0 allows no false-positive frame among 36"
    )
    assert coarse_budget_note(36, 0.05) == ""
    assert "at least 50 frames" in coarse_budget_note(36, 0.02)


def test_validation_from_a_test_set_or_that_trained_the_weights_is_refused(tmp_path):
    from endobench.errors import ConfigError
    from endobench.train.pairs import Pair
    from endobench.train.provenance import refuse_test_data, refuse_trained_or_test_ids

    for name in ("kvasir:test", "pranet-test/kvasir", "colondb", "etis"):
        with pytest.raises(ConfigError, match="test set"):
            refuse_test_data([name])
    for folder in ("TestDataset", "polyps_test", "latest", "validation"):
        (tmp_path / folder).mkdir()
    for folder in ("TestDataset", "polyps_test"):
        with pytest.raises(ConfigError, match="test set"):
            refuse_test_data([str(tmp_path / folder)])
    # A folder's own name counts, not its parents' (this test's folder is named test_...).
    refuse_test_data(["kvasir:train", str(tmp_path / "latest"), str(tmp_path / "validation")])
    stem = "cju0u82z3cuma0835wlxrnrjv"  # in PraNet's Kvasir test list
    with pytest.raises(ConfigError, match="PraNet's test split"):
        refuse_trained_or_test_ids(Path("w"), {}, [Pair(f"kvasir/{stem}", Path("a.jpg"), None)])
    trained = {"training": {"trained_ids": ["x/1", "x/2"]}}
    with pytest.raises(ConfigError, match=r"w: 1 validation frames \(e.g. x/2\) trained"):
        refuse_trained_or_test_ids(Path("w"), trained, [Pair("x/2", Path("a"), None)])
    refuse_trained_or_test_ids(Path("w"), trained, [Pair("x/3", Path("a"), None)])


def test_a_budget_finer_than_one_frame_is_named():
    from endobench.train.operating_point import coarse_budget_note

    note = coarse_budget_note(36, 0.02)
    assert "one of 36 negative frames is 2.8%" in note and "at least 50 frames" in note
    assert coarse_budget_note(50, 0.02) == "" and coarse_budget_note(0, 0.02) == ""
    assert coarse_budget_note(154, 0.005) != ""


class SideGateModel(BrightnessModel):
    """The brightness map at one input side only; every other side sees no polyp anywhere."""

    def __init__(self, side: int):
        super().__init__()
        self.side = side

    def forward(self, x):
        if x.shape[-1] == self.side:
            return super().forward(x)
        return [torch.full_like(x[:, :1], -9.0)]


def test_the_input_side_with_the_best_dice_within_the_budget_is_chosen(hand_made):
    train, val = hand_made
    train_pairs, _ = resolve_pairs([str(train)])
    val_pairs, _ = resolve_pairs([str(val)])
    grid = {"area_factors": (1,), "confidence": (0.5, 0.9), "polarise": (0.3, 0.5, 0.7)}
    single = calibrate_model(BrightnessModel(), SIDE, train_pairs, val_pairs, grid=grid)
    for sides in ((32, SIDE, 96), (SIDE, 32, 96)):
        result = calibrate_model(SideGateModel(SIDE), sides, train_pairs, val_pairs, grid=grid)
        assert result.size == SIDE and [t.size for t in result.size_trials] == list(sides)
        # Chosen and reported at the winning side: exactly the single-side calibration there.
        assert result.params == single.params and result.after == single.after
        assert result.trade_off.chosen == single.trade_off.chosen
        others = [t for t in result.size_trials if t.size != SIDE]
        for t in others:  # nothing found there: Dice 0 (up to the toolkit's epsilon)
            assert t.plain_dice < 1e-9 and t.chosen.dice < 1e-9 and t.chosen.sensitivity == 0
    # At one side the result names it and has one trial (no side table).
    from endobench.train.calibration_result import size_table

    assert single.size == SIDE and len(single.size_trials) == 1 and size_table(single) is None


def test_sides_rank_by_budget_then_dice_then_false_positive_rate_then_speed():
    from endobench.train.calibration_result import SizeTrial, size_rank
    from endobench.train.operating_point import Candidate

    def trial(size, dice=None, fp=0.0):
        c = None if dice is None else Candidate(0.01, 0.5, 0.5, dice, 1.0, fp)
        return SizeTrial(size, c, 0.0, None)

    def best(*trials):
        return min(trials, key=size_rank).size

    assert best(trial(288), trial(352, 0.5)) == 352  # within the budget beats none
    assert best(trial(352, 0.881), trial(288, 0.880)) == 352
    assert best(trial(352, 0.88, fp=0.02), trial(416, 0.88, fp=0.0)) == 416
    assert best(trial(352, 0.88), trial(288, 0.88)) == 288
    assert best(trial(352), trial(288)) == 288


def test_cli_sizes_store_the_chosen_side_as_the_checkpoints_input_size(hand_made, tmp_path):
    from endobench.cli import app
    from endobench.models import create_model, load_checkpoint, save_checkpoint
    from endobench.train.calibration_result import SizeTrial, size_rank

    train, val = hand_made
    weights = tmp_path / "w.safetensors"
    save_checkpoint(
        weights,
        create_model("brp_lite", pretrained_backbone=False),
        {"model": "brp_lite", "input_size": 64},
    )
    out = tmp_path / "sized.safetensors"
    args = ["calibrate", str(weights), "--train-data", str(train), "--val-data", str(val)]
    result = CliRunner().invoke(
        app, [*args, "--sizes", "64,32", "--out", str(out), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert "input side" in result.output and "best of 64, 32" in result.output
    _, meta = load_checkpoint(out)
    trials = meta["calibration"]["size_trials"]
    assert [t["size"] for t in trials] == [64, 32]
    ranked = [
        SizeTrial(t["size"], None if t["dice"] is None else _candidate(t), t["plain_dice"], None)
        for t in trials
    ]
    assert (
        meta["input_size"] == meta["calibration"]["input_size"] == min(ranked, key=size_rank).size
    )
    chosen = next(t for t in trials if t["size"] == meta["input_size"])
    assert meta["postprocess"] == chosen["postprocess"]
    # `endobench run` and every predictor take the model's side from the checkpoint.
    assert (
        create_model("brp_lite", weights=str(out)).endobench_cfg["input_size"] == meta["input_size"]
    )

    bad = CliRunner().invoke(
        app, [*args, "--sizes", "64,zero", "--out", str(tmp_path / "x.safetensors")]
    )
    assert (
        bad.exit_code == 2 and "--sizes '64,zero'" in bad.output and "Traceback" not in bad.output
    )
    assert not (tmp_path / "x.safetensors").exists()


def _candidate(record: dict):
    from endobench.train.operating_point import Candidate

    p = record["postprocess"]
    return Candidate(
        p["reference_area"], p["confidence"], p["polarise"], record["dice"],
        record["sensitivity"], record["fp_frame_rate"],
    )  # fmt: skip
