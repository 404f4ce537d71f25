"""``endobench run`` end to end on the bundled sample, with a tiny model fitted in the test."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from pipeline_helpers import copy_sample
from pipeline_tiny_model import fit_weights, register
from typer.testing import CliRunner

from endobench.cli import app
from endobench.errors import ConfigError
from endobench.io import sha256_file
from endobench.metrics import score_pair
from endobench.metrics.folders import read_truth
from endobench.runner import RunConfig, run_benchmark, run_sweep
from endobench.writers.masks import mask_path, prob_path, read_mask_pixels
from endobench.writers.package import package_run
from endobench.writers.time_file import parse_time_file, time_file_path
from endobench.writers.zip_check import check_zip

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def inputs(sample_root, tmp_path_factory) -> dict[str, Path]:
    """Two sets: all 10 ClinicDB sample pairs (``clinic``) and 2 Kvasir pairs of odd sizes (``kv``)."""
    root = tmp_path_factory.mktemp("inputs")
    copy_sample(sample_root, root / "clinic", "clinicdb", 10)
    copy_sample(sample_root, root / "kv", "kvasir", 2)
    return {
        "clinic": root / "clinic",
        "kv": root / "kv",
        "weights": fit_weights(sample_root / "clinicdb", root / "tiny.safetensors"),
    }


def _config(inputs, out: Path, name: str, **kw) -> RunConfig:
    options = dict(
        model=register(),
        weights=str(inputs["weights"]),
        images=[str(inputs["clinic"]), str(inputs["kv"])],
        out=str(out),
        name=name,
        num_workers=0,
        warmup=1,
        threads=1,
        progress=False,
    )
    options.update(kw)
    return RunConfig(**options)


@pytest.fixture(scope="module")
def e2e(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("subs")
    return run_benchmark(_config(inputs, out, "e2e"))


def _images(folder: Path) -> list[Path]:
    return sorted((folder / "images").iterdir())


def test_run_folder_layout_and_mask_sizes(e2e, inputs):
    for set_name in ("clinic", "kv"):
        for image in _images(inputs[set_name]):
            path = mask_path(e2e.run_dir, set_name, image.stem)
            assert path.name == f"{image.stem}_mask.jpg"
            pixels = read_mask_pixels(path)
            original = cv2.imread(str(image))
            assert pixels.shape == original.shape[:2]
            assert ((pixels <= 2) | (pixels >= 253)).all()
    run = json.loads((e2e.run_dir / "run.json").read_text())
    assert run["status"] == "complete" and run["seed"] == 0
    assert run["weights_sha256"] == sha256_file(inputs["weights"])
    assert len(run["manifest_sha256"]) == 64 and run["device"] == "cpu" and run["device_name"]
    assert run["environment"]["torch"] and run["environment"]["python"]
    assert run["config"]["model"] == "pipeline_tiny" and run["config"]["size"] == 64
    assert run["sets"]["clinic"]["images"] == 10 and run["sets"]["kv"]["images"] == 2
    assert e2e.sets["clinic"].inferred == 10 and e2e.sets["kv"].inferred == 2


def _json_equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("set_name", ["clinic", "kv"])
def test_scores_equal_endobench_score_on_the_same_folder(e2e, inputs, set_name, tmp_path):
    pred_dir = mask_path(e2e.run_dir, set_name, "x").parent
    out_json, out_csv = tmp_path / "s.json", tmp_path / "s.csv"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--gt",
            str(inputs[set_name] / "masks"),
            "--pred",
            str(pred_dir),
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    ours = json.loads((e2e.run_dir / "scores" / f"{set_name}.json").read_text())
    theirs = json.loads(out_json.read_text())
    # The run adds the frame-level detection figures (from probabilities only it has seen).
    assert set(ours) == {"EndoCV2021_seg", "detection"} and set(theirs) == {"EndoCV2021_seg"}
    assert _json_equal(theirs["EndoCV2021_seg"], ours["EndoCV2021_seg"])
    assert out_csv.read_text() == (e2e.run_dir / "scores" / f"{set_name}.csv").read_text()
    standard = json.loads((e2e.run_dir / "scores" / f"{set_name}_standard.json").read_text())
    assert standard["prediction_source"] == "binary masks as written" and "s_measure" in standard


@pytest.mark.parametrize("set_name", ["clinic", "kv"])
def test_standard_metrics_equal_score_standard_on_the_same_folder(e2e, inputs, set_name):
    from endobench.metrics.folders import score_folders

    pred_dir = mask_path(e2e.run_dir, set_name, "x").parent
    scored = score_folders(inputs[set_name] / "masks", pred_dir, standard=True, progress=False)
    ours = json.loads((e2e.run_dir / "scores" / f"{set_name}_standard.json").read_text())
    assert scored.standard and set(scored.standard) <= set(ours)
    assert _json_equal({k: ours[k] for k in scored.standard}, scored.standard)
    assert (ours["truth_rule"], ours["prediction_rule"]) == ("> 127", "> 127")

    result = CliRunner().invoke(
        app,
        ["score", "--gt", str(inputs[set_name] / "masks"), "--pred", str(pred_dir)]
        + ["--standard", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "mean_dice_0.5" in line)
    assert f"{ours['mean_dice_0.5']:.4f}" in row


def test_written_masks_hold_jpeg_noise_that_the_standard_rule_drops(e2e):
    """The masks are JPEGs: grey pixels at the edges, which the > 127 rule leaves out."""
    from endobench.metrics.standard import prediction_map

    pred_dir = mask_path(e2e.run_dir, "clinic", "x").parent
    noisy = 0
    for path in sorted(pred_dir.glob("*_mask.jpg")):
        pixels = cv2.imread(str(path))[:, :, 0]
        grey = (pixels > 0) & (pixels < 255)
        noisy += int(grey.any())
        binary = prediction_map(pixels, pixels.shape)
        assert set(np.unique(binary)) <= {0, 255}
        assert np.array_equal(binary == 255, pixels > 127)
    assert noisy  # otherwise the equality test above could not tell the rules apart


def test_predictions_are_better_than_trivial_ones(e2e, inputs):
    ours = json.loads((e2e.run_dir / "scores" / "clinic.json").read_text())["EndoCV2021_seg"][
        "dice"
    ]["value"]
    all_polyp = np.mean(
        [
            score_pair(read_truth(m), np.ones_like(read_truth(m))).dice
            for m in sorted((inputs["clinic"] / "masks").iterdir())
        ]
    )
    assert ours > all_polyp + 0.05


def test_timing_fields_and_toolkit_time_files(e2e):
    timing = json.loads((e2e.run_dir / "timing.json").read_text())
    fps = timing["fps"]
    assert fps["images_timed"] == 12 and fps["scope"] == "all images"
    assert fps["fps"] > 0 and 0 < fps["median_ms"] <= fps["p90_ms"]
    assert fps["fps"] == pytest.approx(1000 / fps["median_ms"])
    assert "batch 1" in fps["definition"] and "time.perf_counter" in fps["definition"]
    assert timing["throughput"]["images_per_s"] > 0 and timing["end_to_end"]["images_per_s"] > 0
    cond = timing["conditions"]
    assert (cond["input_size"], cond["dtype"], cond["device"], cond["threads"]) == (
        64,
        "float32",
        "cpu",
        1,
    )
    for set_name, count in (("clinic", 10), ("kv", 2)):
        entries = parse_time_file(time_file_path(e2e.run_dir, set_name).read_text())
        assert len(entries) == count + 1 and entries[-1][0] == "average_t"
        assert all(ms > 0 for _, ms in entries)
        assert entries[-1][1] == pytest.approx(np.mean([ms for _, ms in entries[:-1]]))


def test_existing_run_needs_force(e2e, inputs):
    with pytest.raises(ConfigError, match="--resume .* or --force"):
        run_benchmark(_config(inputs, e2e.run_dir.parent, "e2e"))
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--model",
            "pipeline_tiny",
            "--weights",
            str(inputs["weights"]),
            "--images",
            str(inputs["kv"]),
            "--out",
            str(e2e.run_dir.parent),
            "--name",
            "e2e",
            "--workers",
            "0",
            "--no-progress",
        ],
    )
    assert (
        result.exit_code == 2
        and "Error: run folder" in result.output
        and "Traceback" not in result.output
    )


def test_resume_after_an_interruption_and_force(e2e, inputs, tmp_path, monkeypatch):
    import endobench.writers.run_folder as run_folder

    real_write = run_folder.write_mask
    calls = []

    def interrupted_write(path, mask):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(path)
        return real_write(path, mask)

    monkeypatch.setattr(run_folder, "write_mask", interrupted_write)
    config = _config(inputs, tmp_path, "resumed", images=[str(inputs["clinic"])])
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(config)
    monkeypatch.setattr(run_folder, "write_mask", real_write)
    run_dir = tmp_path / "resumed"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    assert len(list(mask_path(run_dir, "clinic", "x").parent.glob("*_mask.jpg"))) == 4
    with (run_dir / ".journal.jsonl").open("a") as journal:
        journal.write('{"set": "clinic", "na')  # a line torn by the interruption

    with pytest.raises(ConfigError, match="size"):
        run_benchmark(
            _config(
                inputs, tmp_path, "resumed", images=[str(inputs["clinic"])], size=96, resume=True
            )
        )
    result = run_benchmark(
        _config(inputs, tmp_path, "resumed", images=[str(inputs["clinic"])], resume=True)
    )
    assert (result.sets["clinic"].inferred, result.sets["clinic"].skipped) == (6, 4)
    # Same numbers as the uninterrupted run (deterministic model, same files).
    assert (run_dir / "scores" / "clinic.csv").read_text() == (
        e2e.run_dir / "scores" / "clinic.csv"
    ).read_text()
    assert len(parse_time_file(time_file_path(run_dir, "clinic").read_text())) == 11

    forced = run_benchmark(
        _config(inputs, tmp_path, "resumed", images=[str(inputs["clinic"])], force=True)
    )
    assert forced.sets["clinic"].inferred == 10 and not (run_dir / "probabilities").exists()


def test_size_sweep_batched_with_workers_and_probabilities(inputs, tmp_path):
    results = run_sweep(
        _config(
            inputs,
            tmp_path,
            "sweep",
            images=[str(inputs["clinic"])],
            sizes=[32, 64],
            batch_size=4,
            fps_images=3,
            num_workers=1,
            save_prob=True,
        )
    )
    assert [r.run_dir.name for r in results] == ["sweep-32", "sweep-64"]
    for result, size in zip(results, (32, 64), strict=True):
        timing = json.loads((result.run_dir / "timing.json").read_text())
        assert (
            timing["conditions"]["input_size"] == size and timing["conditions"]["batch_size"] == 4
        )
        assert timing["fps"]["images_timed"] == 3 and "subset" in timing["fps"]["scope"]
        assert timing["throughput"]["batches_timed"] == 3
        image = _images(inputs["clinic"])[0]
        prob = cv2.imread(
            str(prob_path(result.run_dir, "clinic", image.stem)), cv2.IMREAD_UNCHANGED
        )
        assert prob.dtype == np.uint8 and prob.shape == (288, 384)
        standard = json.loads((result.run_dir / "scores" / "clinic_standard.json").read_text())
        assert standard["prediction_source"] == "probability maps (8-bit)"
        _assert_score_maps_equals_run(result, inputs["clinic"], tmp_path / f"maps-{size}.json")


def _assert_score_maps_equals_run(result, images_dir: Path, json_file: Path) -> None:
    """``score --maps`` on run --save-prob's maps gives run's own PraNet-eval block, to the bit."""
    block = json.loads((result.run_dir / "scores" / "clinic.json").read_text())["pranet_eval"]
    assert block == result.sets["clinic"].pranet_eval and block["images"] == 10
    maps = result.run_dir / "probabilities" / "clinic"
    args = [
        "score",
        "--gt",
        str(images_dir / "masks"),
        "--maps",
        str(maps),
        "--json",
        str(json_file),
    ]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    assert "meanDic" in outcome.output
    assert json.loads(json_file.read_text())["pranet_eval"] == block


def test_package_compare_and_leaderboard_from_the_cli(e2e, inputs, tmp_path):
    runner = CliRunner()
    zip_path = tmp_path / "e2e.zip"
    result = runner.invoke(app, ["package", str(e2e.run_dir), "--out", str(zip_path)])
    assert result.exit_code == 0, result.output
    assert check_zip(
        zip_path, {"clinic": inputs["clinic"] / "images", "kv": inputs["kv"] / "images"}
    ).ok
    assert package_run(e2e.run_dir, tmp_path / "again.zip").sets == {"clinic": 10, "kv": 2}

    board = tmp_path / "board"
    result = runner.invoke(app, ["leaderboard", "add", str(e2e.run_dir), "--dir", str(board)])
    assert result.exit_code == 0, result.output
    assert len(list((board / "results").glob("*.json"))) == 1
    assert "| pipeline_tiny | e2e | 64 |" in (board / "README.md").read_text()
    result = runner.invoke(
        app, ["compare", str(e2e.run_dir), "--format", "csv", "--metrics", "dice,fps"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert [r["dataset"] for r in rows] == ["clinic", "kv"] and float(rows[0]["fps"]) > 0
    result = runner.invoke(
        app, ["package", "--check", str(zip_path), "--images", str(inputs["kv"] / "images")]
    )
    assert result.exit_code == 2 and "one subfolder per set" in result.output


def test_image_only_set_runs_and_packages(inputs, tmp_path):
    only = tmp_path / "EndoCV_DATA1"
    only.mkdir()
    for image in _images(inputs["kv"]):
        (only / image.name).write_bytes(image.read_bytes())
    result = run_benchmark(_config(inputs, tmp_path / "subs", "test-set", images=[str(only)]))
    assert result.sets["EndoCV_DATA1"].summary is None and not (result.run_dir / "scores").exists()
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["sets"]["EndoCV_DATA1"]["has_truth"] is False
    report = package_run(result.run_dir, tmp_path / "test.zip")
    assert report.sets == {"EndoCV_DATA1": 2}
    assert check_zip(tmp_path / "test.zip", only).ok


def test_cli_runs_a_fold_ensemble_of_several_weights(inputs, sample_root, tmp_path):
    from endobench.predictor import Predictor

    second = fit_weights(sample_root / "kvasir", tmp_path / "b.safetensors", steps=20)
    files = [str(inputs["weights"]), str(second)]
    result = CliRunner().invoke(
        app,
        ["run", "--model", "pipeline_tiny", "-w", files[0], "-w", files[1]]
        + ["--images", str(inputs["kv"]), "--out", str(tmp_path / "subs"), "--name", "ens"]
        + ["--workers", "0", "--threads", "1", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "subs" / "ens"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["weights_sha256"] == [sha256_file(f) for f in files]

    ensemble = Predictor("pipeline_tiny", weights=files, device="cpu")
    singles = [Predictor("pipeline_tiny", weights=f, device="cpu") for f in files]
    for image_path in _images(inputs["kv"]):
        image = cv2.imread(str(image_path))[..., ::-1].copy()
        expected = ensemble.predict_masks([image])[0]
        written = read_mask_pixels(mask_path(run_dir, "kv", image_path.stem)) > 127
        assert (written == expected).mean() > 0.999
        probs = [p.predict([image])[0] for p in singles]
        np.testing.assert_allclose(
            ensemble.predict([image])[0], (probs[0] + probs[1]) / 2, atol=1e-5
        )


def test_model_card_states_the_runs_numbers(e2e, inputs, tmp_path):
    from endobench.errors import EndobenchError
    from endobench.models import create_model, save_checkpoint
    from endobench.models.card import build_card, write_card

    notes = tmp_path / "notes.md"
    notes.write_text("## Terms\nResearch use only.\n")
    card = write_card(
        inputs["weights"], [e2e.run_dir], tmp_path / "c.json", tmp_path / "c.md", notes=notes
    )
    assert card["sha256"] == sha256_file(inputs["weights"])
    assert json.loads((tmp_path / "c.json").read_text()) == card
    (evaluation,) = card["evaluations"]
    page = (tmp_path / "c.md").read_text()
    assert card["sha256"] in page and page.rstrip().endswith("Research use only.")
    for set_name in ("clinic", "kv"):
        toolkit = json.loads((e2e.run_dir / "scores" / f"{set_name}.json").read_text())
        standard = json.loads((e2e.run_dir / "scores" / f"{set_name}_standard.json").read_text())
        scores = evaluation["sets"][set_name]["scores"]
        assert scores["dice"] == toolkit["EndoCV2021_seg"]["dice"]["value"]
        assert scores["mean_dice_0.5"] == standard["mean_dice_0.5"]
        row = next(line for line in page.splitlines() if line.startswith(f"| {set_name} |"))
        assert f"| {scores['dice']:.3f} |" in row and f"| {scores['mean_dice_0.5']:.3f} |" in row

    result = CliRunner().invoke(
        app,
        ["model-card", str(inputs["weights"]), "--run", str(e2e.run_dir)]
        + ["--json", str(tmp_path / "c.json")],
    )
    assert result.exit_code == 2 and "--force" in result.output

    other = save_checkpoint(tmp_path / "other.safetensors", create_model(register()))
    with pytest.raises(EndobenchError, match="made with weights"):
        build_card(other, [e2e.run_dir])


def test_model_card_names_both_files_and_flags_an_unstable_timing(e2e, inputs, tmp_path):
    import shutil

    run_dir = tmp_path / "unstable-run"
    shutil.copytree(e2e.run_dir, run_dir)
    timing = json.loads((run_dir / "timing.json").read_text())
    timing |= {"unstable": True, "unstable_reasons": ["p90 3.1x the fastest pass"]}
    (run_dir / "timing.json").write_text(json.dumps(timing))
    card_json, card_md = tmp_path / "card.json", tmp_path / "card.md"
    result = CliRunner().invoke(
        app,
        ["model-card", str(inputs["weights"]), "--run", str(run_dir)]
        + ["--json", str(card_json), "--md", str(card_md)],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {card_json} and {card_md}: card of " in result.stdout
    assert "Warning: run" in result.stderr and "p90 3.1x the fastest pass" in result.stderr
    (evaluation,) = json.loads(card_json.read_text())["evaluations"]
    assert "p90 3.1x the fastest pass" in evaluation["fps_unstable"]
    assert "**Unstable timing** (p90 3.1x the fastest pass" in card_md.read_text()
    timing |= {"unstable": False, "unstable_reasons": []}  # the same run timed as stable
    (run_dir / "timing.json").write_text(json.dumps(timing))
    stable = CliRunner().invoke(
        app,
        ["model-card", str(inputs["weights"]), "--run", str(run_dir)]
        + ["--json", str(tmp_path / "stable.json")],
    )
    assert stable.exit_code == 0 and "Warning" not in stable.output
    assert (
        json.loads((tmp_path / "stable.json").read_text())["evaluations"][0]["fps_unstable"] is None
    )
