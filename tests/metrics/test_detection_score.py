"""Scoring predictions of negative and positive frames (``score --negatives/--positives``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from endobench.errors import DataError, ScoringError
from endobench.metrics.detection import FOREGROUND_FRACTION
from endobench.metrics.endocv_summary import ScoringWarning, load_summary
from endobench.metrics.folders import score_folders
from endobench.metrics.frames import score_frames

H, W = 24, 32


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _image(path: Path, seed: int) -> None:
    _write(path, np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8))


def _mask(box: tuple[int, int, int, int] | None, shape=(H, W)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    if box is not None:
        top, left, bottom, right = box
        mask[top:bottom, left:right] = 255
    return mask


@pytest.fixture
def frames(tmp_path):
    """gt/ (two polyps, one empty truth), negatives in PolypGen's layout, positives, pred/."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    truths = {"p1": (2, 2, 10, 12), "p2": (5, 8, 20, 30), "e1": None}
    calls = {"p1": (3, 3, 9, 12), "p2": None, "e1": (0, 0, 2, 2)}
    for name, box in truths.items():
        _write(gt / f"{name}.png", _mask(box))
        _write(pred / f"{name}_mask.png", _mask(calls[name]))
    negatives = tmp_path / "neg" / "sequenceData" / "negativeOnly"
    for index, (seq, name, call) in enumerate(
        [("s1", "n1", None), ("s1", "n2", (1, 1, 4, 4)), ("s2", "n3", None)]
    ):
        _image(negatives / seq / f"{name}.jpg", index)
        _write(pred / f"{name}_mask.png", _mask(call))
    for index, (name, call) in enumerate([("q1", (4, 4, 8, 8)), ("q2", None)]):
        _image(tmp_path / "pos" / f"{name}.jpg", 10 + index)
        _write(pred / f"{name}_mask.png", _mask(call))
    return tmp_path


def _same(left: dict, right: dict) -> bool:
    a = {k: v["value"] for k, v in left["EndoCV2021_seg"].items()}
    b = {k: v["value"] for k, v in right["EndoCV2021_seg"].items()}
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def test_negatives_score_as_empty_truth_masks(frames):
    result = score_frames(
        frames / "pred", gt_dir=frames / "gt", negatives=[frames / "neg"], progress=False
    )
    # The toolkit's numbers for the same frames with all-background truth files beside the masks.
    gt_all = frames / "gt_all"
    for path in (frames / "gt").iterdir():
        _write(gt_all / path.name, cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
    for name in ("n1", "n2", "n3"):
        _write(gt_all / f"{name}.png", _mask(None))
    with pytest.warns(ScoringWarning, match="2 predictions .* have no truth"):
        expected = score_folders(gt_all, frames / "pred", progress=False)
    assert result.warnings == [
        f"2 predictions in {frames / 'pred'} match no frame and are ignored (q1, q2)"
    ]
    assert _same(result.summary, expected.summary)
    assert [n for n, _ in result.rows] == [n for n, _ in expected.rows]
    assert dict(result.rows)["n1"].dice == 1.0  # empty truth, empty prediction: Dice 1 there
    # positives p1, p2; negatives e1 (empty truth), n1, n2, n3; calls: p1, e1, n2.
    assert result.detection == {
        "n_positive_frames": 2,
        "n_negative_frames": 4,
        "fp_frame_rate": 2 / 4,
        "sensitivity": 1 / 2,
        "specificity": 2 / 4,
        "auroc": result.detection["auroc"],
        "frame_score": FOREGROUND_FRACTION,
    }
    from sklearn.metrics import roc_auc_score

    truth = [False, False, False, False, True, True]  # e1 n1 n2 n3 p1 p2 (sorted by name)
    fractions = [4 / (H * W), 0.0, 9 / (H * W), 0.0, 54 / (H * W), 0.0]
    assert result.detection["auroc"] == roc_auc_score(truth, fractions)


def test_positives_only_give_sensitivity(frames):
    result = score_frames(frames / "pred", positives=[frames / "pos"], progress=False)
    assert result.summary is None and result.rows == []
    assert result.detection["sensitivity"] == 0.5 and result.detection["n_positive_frames"] == 2
    assert result.detection["fp_frame_rate"] is None and result.detection["auroc"] is None
    both = score_frames(
        frames / "pred", negatives=[frames / "neg"], positives=[frames / "pos"], progress=False
    )
    assert len(both.rows) == 3, "positive frames have no EndoCV scores"
    assert both.detection["fp_frame_rate"] == 1 / 3 and both.detection["sensitivity"] == 0.5
    assert both.detection["auroc"] is not None


def test_json_keeps_the_toolkit_keys_and_adds_detection(frames, tmp_path):
    result = score_frames(frames / "pred", negatives=[frames / "neg"], progress=False)
    path = result.write_json(tmp_path / "out.json")
    data = json.loads(path.read_text())
    assert set(data) == {"EndoCV2021_seg", "detection"}
    assert data["detection"]["n_negative_frames"] == 3 and data["detection"]["sensitivity"] is None
    assert _same(load_summary(path), result.summary)


def test_missing_predictions_and_clashes(frames):
    (frames / "pred" / "n3_mask.png").unlink()
    with pytest.raises(ScoringError, match="1 frame without a prediction \\(n3\\)"):
        score_frames(frames / "pred", negatives=[frames / "neg"], progress=False)
    empty = score_frames(
        frames / "pred", negatives=[frames / "neg"], missing="empty", progress=False
    )
    assert empty.missing == ["n3"] and empty.detection["fp_frame_rate"] == 1 / 3
    skipped = score_frames(
        frames / "pred", negatives=[frames / "neg"], on_problem="skip", progress=False
    )
    assert skipped.detection["n_negative_frames"] == 2
    assert skipped.skipped == ["frame without prediction: n3"]
    with pytest.raises(ScoringError, match="repeat.*n1"):
        score_frames(
            frames / "pred",
            negatives=[frames / "neg", frames / "neg" / "sequenceData"],
            missing="empty",
            progress=False,
        )
    _image(frames / "kv" / "images" / "p1.jpg", 0)
    _write(frames / "kv" / "masks" / "p1.png", _mask((1, 1, 3, 3)))
    with pytest.raises(DataError, match="pass its masks as --gt"):
        score_frames(frames / "pred", positives=[frames / "kv"], progress=False)


def test_score_command_with_negatives_and_positives(frames, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    runner = CliRunner()
    out = tmp_path / "s.json"
    args = ["score", "--pred", str(frames / "pred"), "--negatives", str(frames / "neg")]
    result = runner.invoke(
        app, [*args, "--positives", str(frames / "pos"), "--json", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "Frame-level detection" in result.output and "33.3 % (1 of 3)" in result.output
    data = json.loads(out.read_text())
    assert data["detection"]["n_positive_frames"] == 2 and "EndoCV2021_seg" in data
    only_positive = runner.invoke(
        app, ["score", "--pred", str(frames / "pred"), "--positives", str(frames / "pos")]
    )
    assert only_positive.exit_code == 0 and "50.0 % (1 of 2)" in only_positive.output
    nothing = runner.invoke(app, ["score", "--pred", str(frames / "pred")])
    assert (
        nothing.exit_code == 2
        and "pass --gt, --dataset, --negatives or --positives" in nothing.output
    )
