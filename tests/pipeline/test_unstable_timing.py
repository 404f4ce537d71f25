"""An unstable timing (other work competing for the cores) in compare tables and packaging."""

from __future__ import annotations

import zipfile

import pytest
from pipeline_helpers import make_run
from test_leaderboard import unstable_timing
from typer.testing import CliRunner

from endobench.cli import app
from endobench.compare import compare_runs
from endobench.writers.package import check_run, package_run
from endobench.writers.time_file import format_time_file, time_file_path
from endobench.writers.zip_check import check_zip


@pytest.fixture()
def two_runs(sample_pairs, tmp_path):
    images, masks = sample_pairs
    steady = make_run(tmp_path, "steady", images, masks, model="alpha", fps=13.6)
    loaded = make_run(tmp_path, "loaded", images, masks, model="beta", grow=3, fps=900.0)
    return steady, loaded, unstable_timing(loaded)


def _fps_cell(table: str, model: str) -> str:
    row = next(line for line in table.splitlines() if f"| {model} " in line)
    return row.split("|")[-2].strip()


def test_compare_marks_unstable_fps_and_never_bolds_it(two_runs):
    steady, loaded, reasons = two_runs
    table = compare_runs([steady, loaded], metrics="dice fps")
    assert _fps_cell(table, "beta") == "900.0†"
    # The only stable figure has nothing to beat: no FPS is bold, the unstable one least of all.
    assert _fps_cell(table, "alpha") == "13.6" and "**900.0" not in table
    assert f"† loaded: unstable timing: {reasons[0]}" in table
    with_baseline = compare_runs([steady, loaded], metrics="fps", baseline="steady")
    assert _fps_cell(with_baseline, "beta") == "900.0†"  # no delta against an unstable figure
    html = compare_runs([steady, loaded], metrics="fps", fmt="html")
    assert "900.0†" in html and "unstable timing: median 3468.0 ms" in html
    assert r"900.0\dag{}" in compare_runs([steady, loaded], metrics="fps", fmt="latex")


def test_compare_of_stable_runs_is_unmarked(two_runs, sample_pairs, tmp_path):
    steady, *_ = two_runs
    other = make_run(tmp_path, "other", *sample_pairs, model="gamma", fps=20.0)
    table = compare_runs([steady, other], metrics="fps")
    assert "†" not in table and "**20.0**" in table


def test_package_of_an_unstable_run_writes_the_time_file_and_warns(two_runs, tmp_path):
    steady, loaded, reasons = two_runs
    report = package_run(loaded, tmp_path / "loaded.zip")
    assert report.ok and len(report.warnings) == 1
    assert str(loaded) in report.warnings[0] and reasons[0] in report.warnings[0]
    names = zipfile.ZipFile(tmp_path / "loaded.zip").namelist()
    assert "EndoCV2021/segmentation/clinicdb_pred/timeElaspsedclinicdb.txt" in names
    assert check_run(loaded).warnings == report.warnings
    assert package_run(steady, tmp_path / "steady.zip").warnings == []

    result = CliRunner().invoke(app, ["package", str(loaded), "--out", str(tmp_path / "c.zip")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "unstable timing" in warnings[0] and str(loaded) in warnings[0]
    steady_cli = CliRunner().invoke(app, ["package", str(steady), "--out", str(tmp_path / "s.zip")])
    assert steady_cli.exit_code == 0 and "Warning:" not in steady_cli.output


def test_package_check_warns_on_a_zip_with_unstable_times(two_runs, sample_pairs, tmp_path):
    steady, *_ = two_runs
    stable_zip = tmp_path / "stable.zip"
    package_run(steady, stable_zip)
    images = sample_pairs[0]
    check = ["package", "--check", str(stable_zip), "--images", str(images)]
    result = CliRunner().invoke(app, check)
    assert result.exit_code == 0 and "Warning:" not in result.output, result.output
    # The same submission timed on a loaded machine: one pass fast, the rest waiting for cores.
    times = [("fast", 47.0)] + [(f"slow{i}", 3468.0) for i in range(6)]
    time_file_path(steady, "clinicdb").write_text(format_time_file(times))
    loaded_zip = tmp_path / "loaded.zip"
    package_run(steady, loaded_zip)
    assert check_zip(loaded_zip, images).times["clinicdb"] == [t for _, t in times]
    result = CliRunner().invoke(
        app, ["package", "--check", str(loaded_zip), "--images", str(images)]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "clinicdb's timeElaspsed figures look unstable" in warnings[0]
    assert "valid" in result.output
