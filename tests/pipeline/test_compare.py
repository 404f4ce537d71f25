"""Comparison tables in every format, baseline deltas, unlike FPS figures, and the plots."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from endobench.compare import build_table, compare_runs, render_table
from endobench.errors import ConfigError
from endobench.leaderboard.records import load_sources


def _dice(run_dir):
    summary = json.loads((run_dir / "scores" / "clinicdb.json").read_text())
    return summary["EndoCV2021_seg"]["dice"]["value"]


def test_markdown_table_bolds_the_best_per_column(handmade_runs):
    exact, grown, shrunk = handmade_runs
    text = compare_runs(handmade_runs, fmt="md")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith(
        "| Data set | Model | Size | Jac | Dice | F2 | PPV | Rec | Acc | Hdf | Dice@0.5 | FPS |"
    )
    rows = {line.split("|")[2].strip(): line.split("|") for line in lines[1:]}
    assert set(rows) == {"alpha", "beta", "gamma"}
    dice_col = 5
    best = max(handmade_runs, key=_dice)
    best_model = {"exact": "alpha", "grown": "beta", "shrunk": "gamma"}[best.name]
    assert rows[best_model][dice_col].strip() == f"**{_dice(best):.4f}**"
    # Dilated predictions have the best recall, eroded ones the best precision; fastest is beta.
    assert rows["beta"][8].strip().startswith("**") and rows["gamma"][7].strip().startswith("**")
    assert rows["beta"][12].strip() == "**80.0**"
    assert "forward pass only, batch 1" in text
    # Which Dice is which: the legend names the toolkit's Dice and the Dice at 0.5.
    assert "Dice, F2, PPV, Rec, Acc, Hdf: EndoCV2021 toolkit" in text
    assert "Dice@0.5, IoU@0.5: mean Dice/IoU of the map at probability 0.5" in text
    standard = json.loads((exact / "scores" / "clinicdb_standard.json").read_text())
    assert rows["alpha"][11].strip().strip("*") == f"{standard['mean_dice_0.5']:.4f}"


def test_baseline_deltas(handmade_runs):
    records = load_sources(handmade_runs)
    table = build_table(records, "dice,fps", baseline="alpha")
    text = render_table(table, "md")
    exact, grown, shrunk = handmade_runs
    delta = _dice(grown) - _dice(exact)
    assert f"({delta:+.4f})" in text
    assert "alpha (baseline)" in text
    rows = list(csv.DictReader(io.StringIO(render_table(table, "csv"))))
    by_model = {r["model"]: r for r in rows}
    assert set(by_model) == {"alpha", "beta", "gamma"}  # no "(baseline)" in the model field
    assert float(by_model["beta"]["dice_delta"]) == pytest.approx(delta)
    assert float(by_model["gamma"]["fps_delta"]) == pytest.approx(20.0 - 50.0)
    assert by_model["alpha"]["dice_delta"] == "" and by_model["alpha"]["baseline"] == "yes"
    assert by_model["beta"]["baseline"] == ""
    with pytest.raises(ConfigError, match="matches no run"):
        build_table(records, baseline="nonexistent")


def test_latex_and_html(handmade_runs):
    records = load_sources(handmade_runs)
    table = build_table(records)
    latex = render_table(table, "latex")
    assert r"\begin{threeparttable}" in latex
    assert r"\begin{tabular}{lll" + "r" * 9 + "}" in latex
    assert r"\textbf{" in latex and latex.count(r"\\") == 4
    assert r"\begin{tablenotes}" in latex and "\n%" not in latex.split("\n", 1)[1]
    page = render_table(table, "html")
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr>") == 4 and "<b>" in page
    with pytest.raises(ConfigError, match="unknown format"):
        render_table(table, "xlsx")
    with pytest.raises(ConfigError, match="unknown metric"):
        build_table(records, "dice,speed")


def test_fps_from_different_devices_is_not_ranked(handmade_runs, sample_pairs, tmp_path):
    from pipeline_helpers import make_run

    gpu = make_run(
        tmp_path,
        "gpu",
        *sample_pairs,
        model="delta",
        fps=900.0,
        device_name="Big GPU",
        dtype="float16",
    )
    text = compare_runs([*handmade_runs, gpu], metrics="dice,fps", fmt="md")
    # Notes are numbered in the order the rows show them: the first rows (CPU) carry [1].
    assert "**900.0**" not in text and "900.0 [2]" in text
    assert "[1] FPS measured on Test CPU, torch, float32, 2 threads" in text
    markers = re.findall(r"\d \[(\d)\] \|", text)
    assert markers == sorted(markers) and markers[0] == "1"
    assert "not ranked against each other" in text
    # LaTeX: real table notes, the marker a \tnote and its text an item of tablenotes.
    latex = compare_runs([*handmade_runs, gpu], metrics="dice,fps", fmt="latex")
    assert r"900.0\tnote{2}" in latex
    assert r"\item[1] FPS measured on Test CPU, torch, float32, 2 threads." in latex
    assert "% [" not in latex


def test_plots_are_written(handmade_runs, tmp_path):
    from endobench.compare.plots import choose_images, plot_qualitative, plot_scores

    written = plot_scores(handmade_runs, tmp_path / "plots") + plot_qualitative(
        handmade_runs, tmp_path / "plots", worst=2
    )
    assert sorted(p.name for p in written) == [
        "qualitative.png",
        "qualitative.svg",
        "scores.png",
        "scores.svg",
    ]
    for path in written:
        data = path.read_bytes()
        assert len(data) > 2000
        assert data.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in data
    # The worst images by mean Dice over the runs, from the per-image CSVs.
    chosen = choose_images(handmade_runs, "clinicdb", worst=2)
    means = {}
    for run in handmade_runs:
        for row in csv.DictReader((run / "scores" / "clinicdb.csv").open()):
            means.setdefault(row["image"], []).append(float(row["dice"]))
    expected = sorted(means, key=lambda n: (sum(means[n]) / 3, n))[:2]
    assert chosen == expected


def test_compare_cli_writes_table_and_plots(handmade_runs, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    out, plots = tmp_path / "table.tex", tmp_path / "plots"
    args = [
        "compare",
        *map(str, handmade_runs),
        "--format",
        "latex",
        "--out",
        str(out),
        "--plot",
        str(plots),
    ]
    args += [
        "--plot-images",
        sorted(p.stem for p in (handmade_runs[0] / "EndoCV2021").rglob("*_mask.jpg"))[
            0
        ].removesuffix("_mask"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert r"\begin{tabular}" in out.read_text()
    assert sorted(p.name for p in plots.iterdir()) == [
        "qualitative.png",
        "qualitative.svg",
        "scores.png",
        "scores.svg",
    ]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists" in again.output


def test_values_that_print_alike_are_not_bold(handmade_runs):
    """0.8673 against 0.8673 (3.5e-7 apart) is no win: neither is bold; a visible gap still is."""
    import copy

    first, second = (copy.deepcopy(r) for r in load_sources(handmade_runs[:2]))
    second["run"], second["model"] = "other", "other"
    for record, dice in ((first, 0.86731), (second, 0.86731 + 3.5e-7)):
        for entry in record["sets"].values():
            entry["scores"]["dice"] = dice
    text = render_table(build_table([first, second], metrics="dice"), "md")
    assert "0.8673" in text and "**" not in text
    for entry in second["sets"].values():
        entry["scores"]["dice"] = 0.86751
    text = render_table(build_table([first, second], metrics="dice"), "md")
    assert "**0.8675**" in text and "**0.8673**" not in text
