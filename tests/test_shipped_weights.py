"""The shipped brp_lite weights: they load offline, carry their provenance, and reproduce their card."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import endobench
from endobench.io import sha256_file
from endobench.leaderboard.records import TOOLKIT_KEYS

WEIGHTS_DIR = Path(endobench.__file__).parent / "weights"
CARD_JSON = WEIGHTS_DIR / "brp_lite.card.json"
CARD_MD = Path(__file__).resolve().parents[1] / "docs" / "model-card-brp_lite.md"
# card key -> key of the toolkit's JSON (the Hausdorff columns are left to the scorer's own tests)
METRICS = {k: v for k, v in TOOLKIT_KEYS.items() if not k.startswith("hausdorff")}


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads(CARD_JSON.read_text())


def test_shipped_file_is_the_one_the_card_describes(card):
    from endobench.models import load_checkpoint
    from endobench.models.checkpoint import default_weights_path

    path = default_weights_path("brp_lite")
    assert path is not None and path == default_weights_path("brp_lite_post")
    assert sha256_file(path) == card["sha256"]
    tensors, meta = load_checkpoint(path)
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    assert meta["model"] == "brp_lite"
    assert meta["input_size"] == card["input_size"]
    assert meta["postprocess"] == card["postprocess"]
    assert (
        meta["calibration"]["validation_after"]["dice"]
        >= meta["calibration"]["validation_before"]["dice"] - 1e-9
    )


def _sample_evaluation(card: dict) -> dict:
    for evaluation in card["evaluations"]:
        if evaluation["model"] == "brp_lite_post" and set(evaluation["sets"]) == {
            "sample-kvasir",
            "sample-clinicdb",
        }:
            return evaluation
    raise AssertionError("the card has no brp_lite_post run on the bundled sample")


def test_card_was_built_from_this_file_and_runs_with_it(card):
    assert card["evaluations"], "the card states no evaluation"
    assert all(e["weights_sha256"] == card["sha256"] for e in card["evaluations"])
    assert card["stages"] and card["training"]["seed"] is not None


def test_shipped_weights_reproduce_the_cards_sample_scores(card, tmp_path):
    from endobench.runner import RunConfig, run_benchmark

    expected = _sample_evaluation(card)
    result = run_benchmark(
        RunConfig(
            model="brp_lite_post",
            weights="default",
            datasets=["sample/kvasir", "sample/clinicdb"],
            out=str(tmp_path),
            name="card",
            num_workers=0,
            warmup=1,
            progress=False,
        )
    )
    for set_name, entry in expected["sets"].items():
        summary = result.sets[set_name].summary["EndoCV2021_seg"]
        for key, toolkit_key in METRICS.items():
            # Float rounding across CPUs may flip a few border pixels, nothing more.
            assert summary[toolkit_key]["value"] == pytest.approx(entry["scores"][key], abs=2e-3), (
                set_name,
                key,
            )


def test_card_page_states_the_recorded_numbers(card):
    text = CARD_MD.read_text()
    assert card["sha256"] in text
    for evaluation in card["evaluations"]:
        for set_name, entry in evaluation["sets"].items():
            rows = [line for line in text.splitlines() if line.startswith(f"| {set_name} |")]
            assert rows, f"{set_name} missing from the card"
            shown = [{float(x) for x in re.findall(r"\d+\.\d{3}", row)} for row in rows]
            if "dice" in entry["scores"]:
                assert any(round(entry["scores"]["dice"], 3) in s for s in shown), (set_name, rows)
            else:  # frames without masks: only their detection figures are scored
                sensitivity = entry["detection"]["sensitivity"]
                assert any(round(sensitivity, 3) in s for s in shown), (set_name, rows)


def test_card_says_what_negatives_trained_and_no_pranet_dice_on_polyp_free_frames(card):
    text = CARD_MD.read_text()
    negatives = card["training"]["negatives"]
    line = next(row for row in text.splitlines() if row.startswith("- Negatives:"))
    assert f"{negatives['n_train_frames']} frames trained" in line
    assert f"{negatives['n_crops']} crops of positive images" in line
    assert f"negatives are {negatives['fraction']:g} of each batch" in line
    for evaluation in card["evaluations"]:
        for entry in evaluation["sets"].values():
            if entry.get("detection", {}).get("n_positive_frames") == 0:
                assert "mean_dice_0.5" not in entry["scores"]


def test_card_pools_polyp_and_polyp_free_sets_for_their_auroc(card):
    text = CARD_MD.read_text()
    pooled = [ev["detection"] for ev in card["evaluations"] if ev.get("detection")]
    with_auroc = [d for d in pooled if d.get("auroc") is not None]
    assert with_auroc, "no evaluation pools polyp and polyp-free frames"
    rows = [line for line in text.splitlines() if line.startswith("| all sets pooled |")]
    assert len(rows) == len(with_auroc)
    for row, figures in zip(rows, with_auroc, strict=True):
        assert f"| {figures['auroc']:.3f} |" in row
