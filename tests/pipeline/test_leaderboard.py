"""Leaderboard records and rendering."""

from __future__ import annotations

import json

import pytest

from endobench.errors import EndobenchError
from endobench.leaderboard import (
    add_record,
    default_leaderboard_dir,
    load_records,
    render_leaderboard,
)


def test_records_round_trip_and_render(handmade_runs, sample_pairs, tmp_path):
    from pipeline_helpers import make_run

    board = tmp_path / "board"
    for run in handmade_runs:
        add_record(run, board)
    with pytest.raises(EndobenchError, match="exists"):
        add_record(handmade_runs[0], board)
    gpu = make_run(
        tmp_path,
        "gpu",
        *sample_pairs,
        model="delta",
        fps=900.0,
        device_name="Big GPU",
        dtype="float16",
    )
    add_record(gpu, board)
    records = load_records(board)
    assert len(records) == 4
    exact = next(r for r in records if r["run"] == "exact")
    summary = json.loads((handmade_runs[0] / "scores" / "clinicdb.json").read_text())[
        "EndoCV2021_seg"
    ]
    assert exact["sets"]["clinicdb"]["scores"]["dice"] == summary["dice"]["value"]
    assert exact["sets"]["clinicdb"]["scores"]["f2"] == summary["typeIIerror"]["value"]
    assert (exact["device_name"], exact["dtype"], exact["size"]) == ("Test CPU", "float32", 64)

    readme, page = render_leaderboard(board)
    text = readme.read_text()
    # Two tables: the CPU runs ranked together, the GPU run alone.
    assert "## clinicdb — Test CPU, float32, 2 threads" in text
    assert "## clinicdb — Big GPU, float16, 2 threads" in text
    cpu_table = text.split("## clinicdb — Test CPU")[1].split("##")[0]
    ranked = [
        line.split("|")[2].strip()
        for line in cpu_table.splitlines()
        if line.startswith("| ") and line[2].isdigit()
    ]
    dice = {r["model"]: r["sets"]["clinicdb"]["scores"]["dice"] for r in records}
    assert ranked == sorted(["alpha", "beta", "gamma"], key=lambda m: -dice[m])
    from endobench.compare import compare_runs

    table = compare_runs([], leaderboard=True, leaderboard_dir=board, metrics="dice")
    assert (
        table.count("| clinicdb |") == 1
        and len([r for r in table.splitlines() if r.startswith("| ")]) == 1 + 4
    )
    html = page.read_text()
    assert html.count('<table class="lb">') == 2 and "<script>" in html
    assert "http://" not in html and "https://" not in html


def test_empty_leaderboard_renders(tmp_path):
    readme, page = render_leaderboard(tmp_path / "none")
    assert "No records yet" in readme.read_text() and "No records yet" in page.read_text()


def test_default_folder_is_the_checkout_or_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("ENDOBENCH_LEADERBOARD", raising=False)
    (tmp_path / "repo" / "endobench").mkdir(parents=True)
    (tmp_path / "repo" / "pyproject.toml").write_text("")
    (tmp_path / "repo" / "docs").mkdir()
    assert default_leaderboard_dir(tmp_path / "repo" / "docs") == tmp_path / "repo" / "leaderboard"
    monkeypatch.chdir(tmp_path)
    assert default_leaderboard_dir(tmp_path) == tmp_path / "leaderboard"
