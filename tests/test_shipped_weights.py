"""The shipped brp_lite weights: they load offline, carry their provenance, and reproduce their card."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import endobench
from endobench.io import sha256_file

WEIGHTS_DIR = Path(endobench.__file__).parent / "weights"
CARD_JSON = WEIGHTS_DIR / "brp_lite.card.json"
CARD_MD = Path(__file__).resolve().parents[1] / "docs" / "model-card-brp_lite.md"
METRICS = ("dice", "jaccard", "typeIIerror", "PPV", "recall", "OverallAcc")


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


def test_shipped_weights_reproduce_the_cards_sample_scores(card, tmp_path):
    from endobench.runner import RunConfig, run_benchmark

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
    for set_name, expected in card["bundled_sample"].items():
        summary = result.sets[set_name].summary["EndoCV2021_seg"]
        for key in METRICS:
            # Float rounding across CPUs may flip a few border pixels, nothing more.
            assert summary[key]["value"] == pytest.approx(expected[key], abs=2e-3), (set_name, key)


def test_card_page_states_the_recorded_numbers(card):
    text = CARD_MD.read_text()
    assert card["sha256"] in text
    for split in ("pranet_test", "bundled_sample"):
        for set_name, scores in card[split].items():
            row = next((line for line in text.splitlines() if f"| {set_name} " in line), None)
            assert row is not None, f"{set_name} missing from the card"
            shown = [float(x) for x in re.findall(r"\d+\.\d{3}", row)]
            assert round(scores["dice"], 3) in shown, (set_name, row)
