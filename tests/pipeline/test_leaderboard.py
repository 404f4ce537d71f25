"""Leaderboard records and rendering."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert "## clinicdb — Test CPU, torch, float32, 2 threads" in text
    assert "## clinicdb — Big GPU, torch, float16, 2 threads" in text
    cpu_table = text.split("## clinicdb — Test CPU")[1].split("##")[0]
    # The standard columns, named apart from the toolkit's Dice.
    assert (
        "| Dice | F2 | PPV | Rec | Acc | Hdf | Dice@0.5 | IoU@0.5 | Sα | Eφmax | Fβw | MAE | HD95 |"
        in text
    )
    standard = json.loads((handmade_runs[0] / "scores" / "clinicdb_standard.json").read_text())
    assert exact["sets"]["clinicdb"]["standard"]["mdice"] == standard["mean_dice_0.5"]
    assert f"| {standard['mean_dice_0.5']:.4f} |" in cpu_table
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


def _record(run, **extra):
    base = {
        "schema": 1,
        "run": run,
        "model": run,
        "size": 288,
        "dtype": "float32",
        "device": "cpu",
        "device_name": "CPU X",
        "threads": 2,
        "fps": {"fps": 10.0},
        "sets": {"kvasir": {"images": 10, "scores": {"dice": 0.8, "jaccard": 0.7}}},
    }
    return base | extra


def _write_records(board, records):
    (board / "results").mkdir(parents=True)
    for record in records:
        (board / "results" / f"{record['run']}.json").write_text(json.dumps(record))


def test_backend_and_precision_are_never_ranked_together(tmp_path):
    board = tmp_path / "board"
    _write_records(
        board,
        [
            _record("torch32"),
            _record("onnx32", backend="onnxruntime"),
            _record("int8", backend="onnxruntime", precision="int8"),
            _record("one_thread", threads=1),
        ],
    )
    readme, page = render_leaderboard(board)
    text = readme.read_text()
    for heading in (
        "## kvasir — CPU X, torch, float32, 2 threads",
        "## kvasir — CPU X, onnxruntime, float32, 2 threads",
        "## kvasir — CPU X, onnxruntime, int8, 2 threads",
        "## kvasir — CPU X, torch, float32, 1 thread\n",
    ):
        assert heading in text
    assert text.count("| 1 | ") == 4 and "| 2 | " not in text  # each alone, each first
    assert page.read_text().count('<table class="lb">') == 4


def test_detection_figures_and_runs_without_truth(tmp_path):
    board = tmp_path / "board"
    detection = {
        "n_positive_frames": 10,
        "n_negative_frames": 40,
        "fp_frame_rate": 0.125,
        "sensitivity": 0.9,
        "specificity": 0.875,
        "auroc": 0.9321,
        "frame_score": "max_probability",
    }
    with_detection = _record("det")
    with_detection["sets"]["kvasir"]["detection"] = detection
    no_truth = _record("blind", sets={"endocv_test": {"images": 5}})
    _write_records(board, [with_detection, _record("plain"), no_truth])
    text = render_leaderboard(board)[0].read_text()
    assert "| FP frames | Sens. | Spec. | AUROC |" in text
    assert "| 0.1250 | 0.9000 | 0.8750 | 0.9321 |" in text
    assert "Not shown: run blind has no set with ground truth (endocv_test)." in text
    from endobench.compare import compare_runs

    table = compare_runs([], leaderboard=True, leaderboard_dir=board)
    assert "FP frames" in table and "0.9321" in table
    assert "Not shown: run blind has no set with ground truth" in table


def test_reported_results_have_their_own_unranked_section(tmp_path):
    from endobench.leaderboard.reported import REPORTED_HEADING, load_reported

    board = tmp_path / "board"
    _write_records(board, [_record("measured")])
    (board / "reported").mkdir()
    (board / "reported" / "paper.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "title": "Some paper",
                "source": {"citation": "A. Author, Venue 2020", "where": "Table 1"},
                "rows": [
                    {
                        "dataset": "kvasir",
                        "model": "PaperNet",
                        "size": 352,
                        "values": {"mdice": 0.898},
                    }
                ],
            }
        )
    )
    readme, page = render_leaderboard(board)
    text = readme.read_text()
    measured, reported = text.split(f"# {REPORTED_HEADING}")
    assert "PaperNet" not in measured and "| kvasir | PaperNet | 352 | 0.898 |" in reported
    assert "reported, not measured here" in reported and "A. Author, Venue 2020" in reported
    assert "| 1 |" not in reported  # never ranked
    assert "PaperNet" in page.read_text().split('id="reported"')[1]
    (board / "reported" / "bad.json").write_text(json.dumps({"schema": 1, "rows": []}))
    with pytest.raises(EndobenchError, match="source.citation"):
        load_reported(board)


def test_shipped_reported_files_load_and_cite():
    from endobench.leaderboard.reported import load_reported

    sources = load_reported(default_leaderboard_dir(__file__))
    names = {s["_file"] for s in sources}
    assert {"yu-yan-li-endocv2021.json", "pranet-fan-miccai2020.json"} <= names
    for source in sources:
        assert source["source"]["citation"] and source["source"]["where"] and source["rows"]


def test_seed_paper_numbers_are_copied_exactly():
    import re

    reference = (
        Path(__file__).resolve().parents[2].parent
        / "shared"
        / "reference"
        / "paper-yu-yan-li-endocv2021.md"
    )
    if not reference.is_file():
        pytest.skip(f"the seed paper's text is not at {reference}")
    from endobench.leaderboard.reported import load_reported

    rows = []
    for line in reference.read_text(encoding="utf-8").splitlines():
        cells = [re.sub(r"</?b>", "", c).strip() for c in line.split("\t")]
        numbers = [c for c in cells if re.fullmatch(r"\d+\.\d+|\d+", c)]
        if "\t" in line and len(numbers) >= 7:
            rows.append([float(c) for c in numbers])
    source = next(
        s for s in load_reported(default_leaderboard_dir(__file__)) if "yu-yan" in s["_file"]
    )
    keys = ["jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff"]
    ours = []
    for row in source["rows"]:
        size = [row["size"]] if row["table"] == "Table 1" else []
        fps = [row["values"]["fps"]] if "fps" in row["values"] else []
        ours.append([*map(float, size), *(row["values"][k] for k in keys), *fps])
    assert len(rows) == 8 + 12 and ours == rows


def test_cli_outside_a_checkout_creates_nothing(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from endobench.cli import app

    monkeypatch.delenv("ENDOBENCH_LEADERBOARD", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["leaderboard"])
    assert result.exit_code == 2 and "pass --dir" in result.output
    assert not (tmp_path / "leaderboard").exists()
    made = CliRunner().invoke(app, ["leaderboard", "--dir", str(tmp_path / "board")])
    assert made.exit_code == 0 and (tmp_path / "board" / "README.md").is_file()


def test_compare_with_the_leaderboard_shows_reported_results_apart(tmp_path):
    from endobench.compare import compare_runs

    board = tmp_path / "board"
    _write_records(board, [_record("measured")])
    (board / "reported").mkdir()
    (board / "reported" / "paper.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "title": "Some paper",
                "source": {"citation": "A. Author, Venue 2020"},
                "decimals": 3,
                "rows": [{"dataset": "kvasir", "model": "PaperNet", "values": {"dice": 0.9}}],
            }
        )
    )
    text = compare_runs([], leaderboard=True, leaderboard_dir=board, metrics="dice")
    measured, reported = text.split("## Reported in papers (reported, not measured here)")
    assert "PaperNet" not in measured and "| kvasir | PaperNet | – | 0.900 |" in reported
    page = compare_runs([], leaderboard=True, leaderboard_dir=board, fmt="html")
    assert page.index("PaperNet") > page.index("measured") and page.rstrip().endswith("</html>")
    assert "PaperNet" not in compare_runs([], leaderboard=True, leaderboard_dir=board, fmt="csv")


def test_mdice_column_always_and_a_note_for_records_without_it(tmp_path):
    board = tmp_path / "board"
    old = _record("old")
    new = _record("new")
    new["sets"]["kvasir"]["standard"] = {"mdice": 0.8839}
    _write_records(board, [old, new])
    text = render_leaderboard(board)[0].read_text()
    assert "| Hdf | Dice@0.5 | FPS |" in text
    assert "| 0.8839 |" in text and "| – | 10.0 |" in text
    assert "missing (–) for old:" in text and "leaderboard add RUN --force" in text


def unstable_timing(run_dir: Path) -> list[str]:
    """Rewrite a run's timing.json as a run on a loaded machine writes it; return the reasons."""
    from endobench.runner.conditions import stability

    timing = json.loads((run_dir / "timing.json").read_text())
    timing["conditions"] |= {
        "usable_cores": 2,
        "cpu_affinity": "0-1",
        "load_average_start": [3.4, 2.9, 2.1],
        "load_average_end": [5.2, 3.1, 2.2],
    }
    spread = {"median_ms": 3468.0, "p90_ms": 4100.0, "min_ms": 47.0, "images_timed": 20}
    verdict = stability(spread, timing["conditions"])
    assert verdict["unstable"]
    timing |= {"unstable": True, "unstable_reasons": verdict["reasons"]}
    (run_dir / "timing.json").write_text(json.dumps(timing))
    return verdict["reasons"]


@pytest.fixture()
def shared_machine_runs(sample_pairs, tmp_path):
    """Three runs under one condition; the fastest-looking one was timed on a loaded machine."""
    from pipeline_helpers import make_run

    images, masks = sample_pairs
    runs = tmp_path / "runs"
    steady = make_run(runs, "steady", images, masks, model="alpha", grow=0, fps=13.6)
    slow = make_run(runs, "slow", images, masks, model="beta", grow=3, fps=12.7)
    loaded = make_run(runs, "loaded", images, masks, model="gamma", grow=-3, fps=900.0)
    return steady, slow, loaded, unstable_timing(loaded)


def test_unstable_timing_is_recorded_shown_marked_and_not_ranked(shared_machine_runs, tmp_path):
    from endobench.leaderboard.records import is_unstable
    from endobench.leaderboard.render import speed_ranking

    *runs, reasons = shared_machine_runs
    board = tmp_path / "board"
    for run in runs:
        add_record(run, board)
    records = {r["run"]: r for r in load_records(board)}
    loaded = records["loaded"]["timing_stability"]
    assert loaded["unstable"] and loaded["reasons"] == reasons
    assert (loaded["usable_cores"], loaded["cpu_affinity"]) == (2, "0-1")
    assert loaded["load_average_start"] == [3.4, 2.9, 2.1]
    # A timing.json without the flag (written before it existed) counts as stable.
    assert (
        not is_unstable(records["steady"])
        and records["steady"]["timing_stability"]["reasons"] == []
    )
    assert [r["run"] for r in speed_ranking(list(records.values()))] == ["steady", "slow"]

    readme, page = render_leaderboard(board)
    text = readme.read_text()
    table = text.split("## clinicdb — ")[1]
    rows = [
        line.split("|")
        for line in table.splitlines()
        if line.startswith("| ") and line[2].isdigit()
    ]
    # Accuracy ranking is unaffected: the loaded run keeps its Dice rank.
    dice = {name: r["sets"]["clinicdb"]["scores"]["dice"] for name, r in records.items()}
    assert [row[3].strip() for row in rows] == sorted(dice, key=lambda n: -dice[n])
    fps_cells = {row[3].strip(): row[-4].strip() for row in rows}
    assert fps_cells == {"steady": "13.6", "slow": "12.7", "loaded": "900.0†"}
    assert "By FPS, stable timings only: steady (13.6), slow (12.7)." in table
    assert f"† loaded: unstable timing: {reasons[0]}" in table
    assert "loaded (900.0)" not in text
    html = page.read_text()
    assert "900.0†" in html and html.count("unstable timing: median 3468.0 ms") == 1
    # Sorting by FPS puts the unstable figure with the missing ones, not first.
    assert 'data-v="-1">900.0†</td>' in html and 'data-v="13.6">13.6</td>' in html


def test_one_stable_record_needs_no_speed_order(shared_machine_runs, tmp_path):
    steady, *_ = shared_machine_runs
    add_record(steady, tmp_path / "board")
    text = render_leaderboard(tmp_path / "board")[0].read_text()
    assert "By FPS" not in text and "†" not in text.split("## ")[1]
