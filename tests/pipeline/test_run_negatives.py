"""``endobench run --negatives/--positives``: sets of polyp-free frames and of mask-less polyp frames,
and the frame-level detection figures of every scored set."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from pipeline_tiny_model import fit_weights, register
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from endobench.cli import app
from endobench.errors import ConfigError, DataError
from endobench.metrics.folders import score_folders
from endobench.runner import RunConfig, run_benchmark
from endobench.runner.live import detection_table
from endobench.writers.masks import (
    mask_path,
    max_probability_reader,
    prob_path,
    read_mask_pixels,
    read_prob,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def inputs(sample_root, tmp_path_factory) -> dict[str, Path]:
    """PolypGen-style negatives (3 frames, 2 sequences), 2 mask-less polyp frames, and a PolypGen
    centre with masks beside its negative sequence (a set with both kinds of frame)."""
    root = tmp_path_factory.mktemp("frames")
    kvasir = sorted((sample_root / "kvasir" / "images").iterdir())
    clinic = sorted((sample_root / "clinicdb" / "images").iterdir())
    negatives = root / "PolypGen-negatives" / "sequenceData" / "negativeOnly"
    for index, image in enumerate(kvasir[:3]):
        seq = negatives / ("seq1_neg" if index < 2 else "seq7_neg")
        seq.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, seq / f"neg{index}{image.suffix}")
    (root / "pos").mkdir()
    for image in kvasir[3:5]:
        shutil.copy(image, root / "pos" / image.name)
    mixed = root / "mixed"
    for image in clinic[:4]:
        mask = next((sample_root / "clinicdb" / "masks").glob(image.stem + ".*"))
        (mixed / "data_C1" / "images_C1").mkdir(parents=True, exist_ok=True)
        (mixed / "data_C1" / "masks_C1").mkdir(parents=True, exist_ok=True)
        shutil.copy(image, mixed / "data_C1" / "images_C1" / f"c{image.stem}.png")
        shutil.copy(mask, mixed / "data_C1" / "masks_C1" / f"c{image.stem}_mask.png")
    seq = mixed / "sequenceData" / "negativeOnly" / "seq2_neg"
    seq.mkdir(parents=True)
    for index, image in enumerate(kvasir[5:9]):
        shutil.copy(image, seq / f"m{index}{image.suffix}")
    return {
        "neg": root / "PolypGen-negatives",
        "pos": root / "pos",
        "mixed": mixed,
        "weights": fit_weights(sample_root / "clinicdb", root / "tiny.safetensors"),
    }


@pytest.fixture(scope="module")
def run(inputs, tmp_path_factory):
    config = RunConfig(
        model=register(),
        weights=str(inputs["weights"]),
        images=[str(inputs["mixed"])],
        negatives=[str(inputs["neg"])],
        positives=[str(inputs["pos"])],
        out=str(tmp_path_factory.mktemp("subs")),
        name="neg",
        num_workers=0,
        warmup=0,
        threads=1,
        save_prob=True,
        progress=False,
    )
    return run_benchmark(config)


def _calls(run, set_name: str, names: list[str]) -> list[bool]:
    return [bool((read_mask_pixels(mask_path(run.run_dir, set_name, n)) > 0).any()) for n in names]


def _scores(run, set_name: str) -> dict:
    return json.loads((run.run_dir / "scores" / f"{set_name}.json").read_text())


def test_negative_set_scored_against_empty_truths(run, tmp_path):
    assert set(run.sets) == {"mixed", "polypgen-negative", "pos"}
    names = ["neg0", "neg1", "neg2"]
    calls = _calls(run, "polypgen-negative", names)
    scores = _scores(run, "polypgen-negative")
    assert scores["detection"] == {
        "n_positive_frames": 0,
        "n_negative_frames": 3,
        "fp_frame_rate": sum(calls) / 3,
        "sensitivity": None,
        "specificity": (3 - sum(calls)) / 3,
        "auroc": None,
        "frame_score": "max_probability",
    }
    # The EndoCV numbers are the toolkit's for all-background truth files of the images' sizes.
    pred_dir = mask_path(run.run_dir, "polypgen-negative", "x").parent
    gt = tmp_path / "gt"
    gt.mkdir()
    for name in names:
        height, width = read_mask_pixels(mask_path(run.run_dir, "polypgen-negative", name)).shape
        assert cv2.imwrite(str(gt / f"{name}.png"), np.zeros((height, width), np.uint8))
    expected = score_folders(gt, pred_dir, progress=False).summary
    ours = {k: v["value"] for k, v in scores["EndoCV2021_seg"].items()}
    theirs = {k: v["value"] for k, v in expected["EndoCV2021_seg"].items()}
    assert all(
        (math.isnan(ours[k]) and math.isnan(theirs[k])) or ours[k] == theirs[k] for k in ours
    )


def test_positive_frames_get_sensitivity_only(run, inputs):
    names = sorted(p.stem for p in inputs["pos"].iterdir())
    calls = _calls(run, "pos", names)
    scores = _scores(run, "pos")
    assert set(scores) == {"detection"}
    assert scores["detection"]["sensitivity"] == sum(calls) / 2
    assert scores["detection"]["n_positive_frames"] == 2
    assert scores["detection"]["fp_frame_rate"] is None
    recorded = json.loads((run.run_dir / "run.json").read_text())["sets"]["pos"]
    assert recorded["scores_json"] == "scores/pos.json"
    assert run.sets["pos"].detection == scores["detection"]


def test_mixed_set_auroc_of_the_recorded_max_probability(run):
    entries = json.loads((run.run_dir / "manifest.json").read_text())["mixed"]
    names = [e["name"] for e in entries]
    truth = [not e["negative"] for e in entries]
    assert sum(truth) == 4 and len(truth) == 8
    journal = [
        json.loads(line)
        for line in (run.run_dir / ".journal.jsonl").read_text().splitlines()
        if line.strip()
    ]
    max_prob = {j["name"]: j["max_prob"] for j in journal if j["set"] == "mixed"}
    for name in names:  # the recorded score is the map's maximum (the map is stored in 8 bits)
        stored = read_prob(prob_path(run.run_dir, "mixed", name)).max()
        assert abs(stored - max_prob[name]) <= 0.5 / 255 + 1e-6
    figures = _scores(run, "mixed")["detection"]
    calls = _calls(run, "mixed", names)
    assert figures["n_positive_frames"] == 4 and figures["n_negative_frames"] == 4
    assert figures["sensitivity"] == sum(c for c, t in zip(calls, truth, strict=True) if t) / 4
    assert (
        figures["fp_frame_rate"] == sum(c for c, t in zip(calls, truth, strict=True) if not t) / 4
    )
    assert figures["auroc"] == roc_auc_score(truth, [max_prob[n] for n in names])


def test_summary_shows_the_detection_figures(run):
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(detection_table(run))
    text = console.export_text()
    assert "frame-level detection" in text and "polypgen-negative" in text and "0 / 3" in text


def test_bad_frame_folders(inputs, tmp_path, sample_root):
    from endobench.runner.sources import open_frames

    assert RunConfig(model="x", negatives=[str(inputs["neg"])]).validate()
    with pytest.raises(DataError, match="--positives takes polyp frames without masks"):
        open_frames(str(sample_root / "kvasir"), "positive")
    with pytest.raises(DataError, match="looks like a mask"):
        open_frames(str(sample_root / "kvasir"), "negative")
    with pytest.raises(DataError, match="not found; check --negatives"):
        open_frames(str(tmp_path / "absent"), "negative")
    with pytest.raises(ConfigError, match="--negatives DIR"):
        RunConfig(model="x").validate()


def test_cli_options(inputs, tmp_path):
    register()
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--model",
            "pipeline_tiny",
            "--weights",
            str(inputs["weights"]),
            "--negatives",
            str(inputs["neg"] / "sequenceData" / "negativeOnly" / "seq1_neg"),
            "--positives",
            str(inputs["pos"]),
            "--out",
            str(tmp_path),
            "--name",
            "cli",
            "--workers",
            "0",
            "--warmup",
            "0",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "frame-level detection" in result.stdout
    assert (tmp_path / "cli" / "scores" / "polypgen-negative-seq1_neg.json").is_file()


def test_unreadable_negative_frames_refused_or_skipped(inputs, tmp_path):
    from endobench.runner.sources import resolve_inputs

    folder = tmp_path / "negs"
    shutil.copytree(inputs["neg"] / "sequenceData" / "negativeOnly" / "seq1_neg", folder)
    cut = sorted(folder.iterdir())[0]
    cut.write_bytes(cut.read_bytes()[:500])
    with pytest.raises(DataError, match=f"unreadable: {cut.name}"):
        resolve_inputs([], [], [], None, negatives=[str(folder)])
    with pytest.warns(UserWarning, match="skipped 1 problem"):
        (skipped,) = resolve_inputs([], [], [], None, True, negatives=[str(folder)])
    assert len(skipped.dataset) == 1 and skipped.name == "negs"


def test_frames_of_all_sets_pooled_in_run_json(run):
    journal = [
        json.loads(line)
        for line in (run.run_dir / ".journal.jsonl").read_text().splitlines()
        if line.strip()
    ]
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    truth, scores, calls = [], [], []
    for set_name, entries in manifest.items():
        names = [e["name"] for e in entries]
        calls += _calls(run, set_name, names)
        truth += [set_name == "pos" or (set_name == "mixed" and not e["negative"]) for e in entries]
        by_name = {j["name"]: j["max_prob"] for j in journal if j["set"] == set_name}
        scores += [by_name[n] for n in names]
    pooled = json.loads((run.run_dir / "run.json").read_text())["detection"]
    assert pooled == run.detection
    assert (pooled["n_positive_frames"], pooled["n_negative_frames"]) == (6, 7)
    negatives = [c for c, t in zip(calls, truth, strict=True) if not t]
    assert pooled["fp_frame_rate"] == sum(negatives) / 7
    assert pooled["auroc"] == roc_auc_score(truth, scores)
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(detection_table(run))
    assert "all sets pooled" in console.export_text()


def test_score_ranks_frames_by_the_saved_maps_maximum_with_prob(run, inputs, tmp_path):
    from endobench.metrics.frames import score_frames

    preds, probs = tmp_path / "pred", tmp_path / "prob"
    preds.mkdir()
    probs.mkdir()
    truth, stored = [], []
    for set_name, positive in (("polypgen-negative", False), ("pos", True)):
        for entry in json.loads((run.run_dir / "manifest.json").read_text())[set_name]:
            name = entry["name"]
            shutil.copy(mask_path(run.run_dir, set_name, name), preds)
            shutil.copy(prob_path(run.run_dir, set_name, name), probs)
            truth.append(positive)
            stored.append(float(read_prob(prob_path(run.run_dir, set_name, name)).max()))
    frames = dict(negatives=[inputs["neg"]], positives=[inputs["pos"]], progress=False)
    figures = score_frames(preds, max_probability=max_probability_reader(probs), **frames).detection
    assert figures["frame_score"] == "max_probability"
    assert figures["auroc"] == pytest.approx(roc_auc_score(truth, stored))
    assert score_frames(preds, **frames).detection["frame_score"] == "foreground_fraction"
    next(probs.iterdir()).unlink()
    with pytest.raises(DataError, match="no probability map"):
        score_frames(preds, max_probability=max_probability_reader(probs), **frames)


def test_mean_dice_is_left_undefined_on_polyp_free_frames_everywhere(run):
    """PraNet's per-frame Dice is 0 on every polyp-free frame: the set means skip those frames, and
    the leaderboard record and the model card show no mean Dice for a set of them alone."""
    from endobench.leaderboard.records import record_from_run, record_values
    from endobench.models.card import evaluation_from_run

    def standard(set_name):
        path = run.run_dir / "scores" / f"{set_name}_standard.json"
        return json.loads(path.read_text())

    negative = standard("polypgen-negative")
    assert math.isnan(negative["mean_dice_0.5"]) and negative["dice_undefined"] == 3
    mixed = standard("mixed")
    assert mixed["dice_undefined"] == 4 and mixed["mean_dice_0.5"] > 0  # 4 masked frames count
    record = record_from_run(run.run_dir)
    assert record_values(record, "polypgen-negative").get("mdice") is None
    assert record_values(record, "mixed")["mdice"] == mixed["mean_dice_0.5"]
    card_sets = evaluation_from_run(run.run_dir)["sets"]
    assert "mean_dice_0.5" not in card_sets["polypgen-negative"]["scores"]
    assert card_sets["mixed"]["scores"]["mean_dice_0.5"] == mixed["mean_dice_0.5"]


def test_summary_of_a_polyp_free_set_prints_no_nan():
    """Hdf is undefined without a polyp anywhere: the run's summary shows a dash, not nan."""
    import io
    import warnings

    from rich.console import Console

    from endobench.metrics.endocv import score_pair
    from endobench.metrics.endocv_summary import EndoCVAccumulator
    from endobench.runner.live import summary_table
    from endobench.runner.result import RunResult, SetResult

    accumulator = EndoCVAccumulator()
    for name in ("a", "b"):
        empty = np.zeros((32, 40), bool)
        accumulator.update(name, score_pair(empty, np.zeros((32, 40), np.uint8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = accumulator.compute()
    assert math.isnan(summary["EndoCV2021_seg"]["hausdorff_distance"]["value"])
    result = RunResult(Path("r"), "r", {"negatives": SetResult(2, 2, 0, summary=summary)})
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(summary_table(result))
    row = next(line for line in buffer.getvalue().splitlines() if "negatives" in line)
    assert "nan" not in row.lower() and row.rstrip().endswith("–")
