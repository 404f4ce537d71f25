"""`endobench score` and `endobench score-gen` through the CLI, and their torch-free start."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from endobench.cli import app
from endobench.metrics import score_folders

runner = CliRunner()


@pytest.fixture()
def folders(tmp_path):
    rng = np.random.default_rng(9)
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for i in range(3):
        truth = np.zeros((60, 80), np.uint8)
        top = int(rng.integers(5, 20))
        truth[top : top + 30, 10:60] = 255
        cv2.imwrite(str(gt_dir / f"frame{i}.jpg"), truth)
        cv2.imwrite(str(pred_dir / f"frame{i}_mask.jpg"), np.roll(truth, i * 3, axis=1))
    return gt_dir, pred_dir


def test_score_writes_the_toolkit_json_and_csv(folders, tmp_path):
    gt_dir, pred_dir = folders
    out_json, out_csv = tmp_path / "out" / "scores.json", tmp_path / "out" / "per_image.csv"
    args = [
        "score",
        "--gt",
        str(gt_dir),
        "--pred",
        str(pred_dir),
        "--json",
        str(out_json),
        "--csv",
        str(out_csv),
        "--test-type",
        "testType1",
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Dice" in result.stdout and "testType1" in result.stdout
    expected = score_folders(gt_dir, pred_dir, progress=False).summary
    assert json.loads(out_json.read_text()) == expected
    assert (
        out_csv.read_text().splitlines()[0] == "image,jaccard,dice,f2,ppv,recall,accuracy,hausdorff"
    )
    assert len(out_csv.read_text().splitlines()) == 4
    again = runner.invoke(app, args)  # the files exist now: refused, not overwritten
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_missing_predictions_exit_2_with_one_line(folders):
    gt_dir, pred_dir = folders
    (pred_dir / "frame1_mask.jpg").unlink()
    result = runner.invoke(app, ["score", "--gt", str(gt_dir), "--pred", str(pred_dir)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "frame1" in lines[0]
    assert "Traceback" not in result.output
    ok = runner.invoke(
        app, ["score", "--gt", str(gt_dir), "--pred", str(pred_dir), "--missing-as-empty"]
    )
    assert ok.exit_code == 0 and "scored as empty (frame1)" in ok.stderr


def test_score_gen_prints_the_generalisation_score(folders, tmp_path):
    gt_dir, pred_dir = folders
    seen, unseen = tmp_path / "seen.json", tmp_path / "unseen.json"
    for path in (seen, unseen):
        assert (
            runner.invoke(
                app, ["score", "--gt", str(gt_dir), "--pred", str(pred_dir), "--json", str(path)]
            ).exit_code
            == 0
        )
    result = runner.invoke(app, ["score-gen", str(seen), str(unseen)])
    assert result.exit_code == 0, result.output
    values = json.loads(seen.read_text())["EndoCV2021_seg"]
    mean_unseen = np.mean(
        [
            values["dice"]["value"],
            values["recall"]["value"],
            values["PPV"]["value"],
            1 - values["hausdorff_distance"]["value"],
        ]
    )
    assert (
        f"seg_g_score (mean of unseen Dice, recall, PPV, 1-HD): {mean_unseen:.4f}" in result.stdout
    )
    assert "score_seg_g (mean deviation beyond 10 % of seen): 0.0000" in result.stdout
    bad = runner.invoke(app, ["score-gen", str(seen), str(tmp_path / "nope.json")])
    assert bad.exit_code == 2 and "nope.json" in bad.stderr


def test_score_command_runs_without_torch_pandas_or_matplotlib(folders, tmp_path):
    gt_dir, pred_dir = folders
    code = textwrap.dedent(
        f"""
        import sys
        import endobench.cli
        from endobench.cli.score import score
        score(gt={str(gt_dir)!r}, pred={str(pred_dir)!r}, json_file=None, csv_file=None,
              test_type=None, missing_as_empty=False, standard=False, overwrite=False,
              gt_threshold=0, progress=False, skip_problems=False, negatives=[], positives=[],
              prob=None, maps=None)
        heavy = [m for m in ("torch", "pandas", "matplotlib", "sklearn") if m in sys.modules]
        print("HEAVY", heavy)
        # --maps imports pysodmetrics (its weighted F-measure), which brings pandas and sklearn,
        # as --standard does; never torch or matplotlib.
        score(gt={str(gt_dir)!r}, pred=None, maps={str(pred_dir)!r}, json_file=None,
              csv_file=None, standard=False, overwrite=False, progress=False, negatives=[],
              positives=[], prob=None)
        print("MAPS HEAVY", [m for m in ("torch", "matplotlib") if m in sys.modules])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout and "MAPS HEAVY []" in out.stdout


def test_score_maps_writes_pranets_figures_and_refuses_mixed_options(folders, tmp_path):
    gt_dir, pred_dir = folders
    out = tmp_path / "pranet.json"
    result = runner.invoke(
        app, ["score", "--gt", str(gt_dir), "--maps", str(pred_dir), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "meanDic" in result.stdout and "PraNet eval/main.m" in result.stdout
    block = json.loads(out.read_text())["pranet_eval"]
    assert list(block)[:3] == ["meanDic", "meanIoU", "wFm"] and block["images"] > 0
    again = runner.invoke(
        app, ["score", "--gt", str(gt_dir), "--maps", str(pred_dir), "--json", str(out)]
    )
    assert again.exit_code == 2 and "already exists" in again.stderr
    for extra in (["--pred", str(pred_dir)], ["--standard"]):
        mixed = runner.invoke(app, ["score", "--gt", str(gt_dir), "--maps", str(pred_dir), *extra])
        assert mixed.exit_code == 2 and "on their own" in mixed.stderr
    alone = runner.invoke(app, ["score", "--maps", str(pred_dir)])
    assert alone.exit_code == 2 and "--maps needs --gt" in alone.stderr
    nothing = runner.invoke(app, ["score", "--gt", str(gt_dir)])
    assert nothing.exit_code == 2 and "pass --pred" in nothing.stderr
