"""``endobench compare --stats`` from the command line: tables with CIs, JSON, one-line errors."""

from __future__ import annotations

import json

import numpy as np
from stats_runs import make_runs, scores_for, write_run
from typer.testing import CliRunner

from endobench.cli import app


def _invoke(*args):
    return CliRunner().invoke(app, ["compare", *map(str, args)])


def test_stats_markdown_prints_cis_and_bolds_only_clear_winners(tmp_path):
    rng = np.random.default_rng(4)
    images = [f"im{k:03d}" for k in range(80)]
    base = scores_for(rng, 80, 0.75)
    better = {m: v.copy() for m, v in base.items()}
    better["dice"] = np.clip(base["dice"] + 0.08 + rng.normal(0, 0.01, 80), 0, 1)
    close = {m: v.copy() for m, v in base.items()}
    close["dice"] = np.clip(base["dice"] + rng.normal(0, 0.01, 80), 0, 1)
    runs = [
        write_run(tmp_path, "best", {"kvasir": (images, better)}),
        write_run(tmp_path, "close", {"kvasir": (images, close)}),
        write_run(tmp_path, "base", {"kvasir": (images, base)}, no_truth=["endocv_test"]),
    ]
    result = _invoke(*runs, "--stats", "--resamples", "200")
    assert result.exit_code == 0, result.output
    text = result.output
    summary = text.split("ranking by")[0]
    rows = {
        line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")
    }
    dice_col = 4  # | Model | Run | Jac | Dice |
    best_cell = rows["best"].split("|")[dice_col].strip()
    assert best_cell.startswith("**") and " [" in best_cell and best_cell.endswith("]**")
    for other in ("close", "base"):
        cell = rows[other].split("|")[dice_col].strip()
        assert not cell.startswith("**")
        mean, interval = cell.split(" [")
        low, high = (float(x) for x in interval.rstrip("]").split(", "))
        assert low <= float(mean) <= high
    assert "ranking by Dice" in text and "Kendall's tau" in text
    assert "Not shown: set(s) endocv_test of run base (no ground truth)." in text


def test_stats_json_and_csv(tmp_path):
    runs = make_runs(tmp_path, n_models=2, n_sets=2, n_images=30)
    out = tmp_path / "stats.json"
    result = _invoke(*runs, "--stats", "--format", "json", "--resamples", "200", "--out", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    pair = data["sets"]["set1"]["hausdorff"]["pairs"][0]
    assert set(pair) >= {"a", "b", "p_value", "p_holm"}
    assert data["settings"]["n_resamples"] == 200 and data["consensus"]["dice"]["sets"] == [
        "set0",
        "set1",
    ]
    csv_text = _invoke(*runs, "--stats", "--format", "csv", "--resamples", "200").stdout
    assert csv_text.splitlines()[0].startswith("set,metric,run,model,mean,ci_low,ci_high")
    assert len(csv_text.splitlines()) == 1 + 2 * 7 * 2
    latex = _invoke(*runs, "--stats", "--format", "latex", "--resamples", "200").stdout
    assert r"\begin{threeparttable}" in latex and r"\begin{tablenotes}" in latex


def test_one_line_errors(tmp_path):
    rng = np.random.default_rng(0)
    images = [f"f{k}" for k in range(8)]
    a = write_run(tmp_path, "a", {"s": (images, scores_for(rng, 8, 0.8))})
    b = write_run(tmp_path, "b", {"s": (images[:6], scores_for(rng, 6, 0.8))})
    for extra in (["--stats"], []):
        result = _invoke(a, b, *extra)
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "b lacks f6, f7" in lines[0] and "Traceback" not in result.output
    assert _invoke(a, "--format", "json").exit_code == 2
    refused = _invoke(a, "--stats", "--metrics", "mDice")
    assert refused.exit_code == 2 and "per-image" in refused.output
