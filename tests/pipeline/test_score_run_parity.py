"""``endobench score`` and ``endobench run`` give the same numbers on the same files: both feed the
one set scorer (:class:`endobench.metrics.set_scorer.SetScorer`), here on the bundled sample."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from pipeline_helpers import copy_sample
from pipeline_tiny_model import fit_weights, register

from endobench.metrics.folders import score_folders
from endobench.metrics.frames import score_frames
from endobench.runner import RunConfig, run_benchmark
from endobench.writers.masks import mask_path, max_probability_reader, prob_path

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def parity_run(sample_root, tmp_path_factory):
    """A run with probability maps over 10 ClinicDB pairs, 3 Kvasir images taken as polyp-free
    frames and 2 as polyp frames without masks."""
    root = tmp_path_factory.mktemp("parity")
    copy_sample(sample_root, root / "clinic", "clinicdb", 10)
    kvasir = sorted((sample_root / "kvasir" / "images").iterdir())
    for folder, images in (("neg", kvasir[:3]), ("pos", kvasir[3:5])):
        (root / folder).mkdir()
        for image in images:
            shutil.copy(image, root / folder / image.name)
    config = RunConfig(
        model=register(),
        weights=str(fit_weights(sample_root / "clinicdb", root / "tiny.safetensors")),
        images=[str(root / "clinic")],
        negatives=[str(root / "neg")],
        positives=[str(root / "pos")],
        out=str(root / "runs"),
        name="parity",
        num_workers=0,
        warmup=0,
        threads=1,
        save_prob=True,
        progress=False,
    )
    return root, run_benchmark(config)


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def _gathered(run, root: Path, sets: dict[str, str]) -> tuple[Path, Path]:
    """The run's masks and probability maps of ``sets`` in one folder each, as a user passes them."""
    preds, probs = root / "pred", root / "prob"
    for folder in (preds, probs):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    for set_name in sets:
        for path in mask_path(run.run_dir, set_name, "x").parent.iterdir():
            shutil.copy(path, preds)
        for path in prob_path(run.run_dir, set_name, "x").parent.iterdir():
            shutil.copy(path, probs)
    return preds, probs


def test_score_gives_the_runs_numbers_for_every_set_and_the_pooled_frames(parity_run):
    root, run = parity_run
    sets = {"clinic": "mask", "neg": "negative", "pos": "positive"}
    assert set(run.sets) == set(sets)
    preds, probs = _gathered(run, root, sets)
    scored = score_frames(
        preds,
        gt_dir=root / "clinic" / "masks",
        negatives=[root / "neg"],
        positives=[root / "pos"],
        max_probability=max_probability_reader(probs),
        progress=False,
    )
    pooled = json.loads((run.run_dir / "run.json").read_text())["detection"]
    for key in ("n_positive_frames", "n_negative_frames", "fp_frame_rate", "sensitivity"):
        assert scored.detection[key] == pooled[key], key
    # The run ranks by the network's own maximum, score by the 8-bit maps' maximum.
    assert scored.detection["auroc"] == pytest.approx(pooled["auroc"], abs=0.02)
    names = {name for s in ("clinic", "neg") for name in _csv_names(run, s)}
    assert {name for name, _ in scored.rows} == names and len(scored.rows) == 13


def _csv_names(run, set_name: str):
    from endobench.compare.perimage import read_per_image_csv

    return read_per_image_csv(run.run_dir / "scores" / f"{set_name}.csv")[0]


@pytest.mark.parametrize("set_name", ["clinic", "neg"])
def test_each_set_scored_alone_equals_the_runs_scores_to_the_bit(parity_run, set_name, tmp_path):
    root, run = parity_run
    preds, probs = _gathered(run, root, {set_name: ""})
    kind = (
        {"gt_dir": root / "clinic" / "masks"}
        if set_name == "clinic"
        else {"negatives": [root / "neg"]}
    )
    scored = score_frames(
        preds, max_probability=max_probability_reader(probs), progress=False, **kind
    )
    ours = json.loads((run.run_dir / "scores" / f"{set_name}.json").read_text())
    assert _equal(scored.summary["EndoCV2021_seg"], ours["EndoCV2021_seg"])
    for key in ("n_positive_frames", "n_negative_frames", "fp_frame_rate", "sensitivity"):
        assert scored.detection[key] == ours["detection"][key], key
    written = scored.write_csv(tmp_path / "s.csv")
    assert written.read_text() == (run.run_dir / "scores" / f"{set_name}.csv").read_text()
    if set_name == "clinic":
        folders = score_folders(root / "clinic" / "masks", preds, progress=False)
        assert _equal(folders.summary, scored.summary)
        assert folders.rows == scored.rows


def test_positive_frames_alone_give_the_runs_sensitivity(parity_run):
    root, run = parity_run
    preds, _ = _gathered(run, root, {"pos": ""})
    scored = score_frames(preds, positives=[root / "pos"], progress=False)
    ours = json.loads((run.run_dir / "scores" / "pos.json").read_text())["detection"]
    assert scored.summary is None
    assert scored.detection["sensitivity"] == ours["sensitivity"]
    assert scored.detection["n_positive_frames"] == ours["n_positive_frames"] == 2
