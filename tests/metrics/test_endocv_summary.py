"""The set summary (toolkit JSON), the per-image CSV and the generalisation score."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from mask_cases import case_pairs
from toolkit_reference import reference_image_scores, reference_summary

from endobench.errors import ScoringError
from endobench.metrics import (
    CSV_COLUMNS,
    ImageScores,
    ScoringWarning,
    generalisation_score,
    load_summary,
    score_masks,
    summarize,
    write_per_image_csv,
    write_summary_json,
)

TOOLKIT_KEYS = [
    "dice",
    "jaccard",
    "typeIIerror",
    "PPV",
    "recall",
    "OverallAcc",
    "hausdorff_distance",
    "hausdorff_distance_nonNorm",
    "dice_std",
    "jc_std",
    "f2_std",
    "ppv_std",
    "r_std",
    "acc_std",
    "hdf_std",
    "hdf_std_noNorm",
]


def _scores(**overrides) -> ImageScores:
    base = dict(jaccard=0.5, dice=0.6, f2=0.7, ppv=0.8, recall=0.9, accuracy=0.95, hausdorff=3.0)
    base.update(overrides)
    return ImageScores(**base)


def test_summary_equals_the_toolkit_computation_with_its_keys_in_order():
    pairs = case_pairs(seed=5)[2:9]  # the small ones: the reference Hausdorff is slow
    ours = summarize([score_masks(t, p) for _, t, p in pairs])
    reference = reference_summary([reference_image_scores(t, p) for _, t, p in pairs])
    assert list(ours) == ["EndoCV2021_seg"]
    assert list(ours["EndoCV2021_seg"]) == TOOLKIT_KEYS
    for key in TOOLKIT_KEYS:
        assert ours["EndoCV2021_seg"][key]["value"] == pytest.approx(
            float(reference["EndoCV2021_seg"][key]["value"]), abs=1e-12, rel=0
        ), key


def test_summary_std_is_population_std_and_hdf_std_is_of_hd_over_max():
    scores = [_scores(dice=d, hausdorff=h) for d, h in ((0.2, 2.0), (0.4, 4.0), (0.9, 8.0))]
    values = {k: v["value"] for k, v in summarize(scores)["EndoCV2021_seg"].items()}
    assert values["dice"] == pytest.approx(0.5)
    assert values["dice_std"] == pytest.approx(math.sqrt(((0.3**2) + (0.1**2) + (0.4**2)) / 3))
    assert values["hausdorff_distance_nonNorm"] == pytest.approx(14 / 3)
    assert values["hausdorff_distance"] == pytest.approx((14 / 3) / 8)
    assert values["hdf_std"] == pytest.approx(np.std([0.25, 0.5, 1.0]))
    assert values["hdf_std_noNorm"] == pytest.approx(np.std([2.0, 4.0, 8.0]))


def test_all_zero_hausdorff_gives_nan_like_the_toolkit(tmp_path):
    with pytest.warns(ScoringWarning, match="NaN"):
        summary = summarize([_scores(hausdorff=0.0), _scores(hausdorff=0.0)])
    values = summary["EndoCV2021_seg"]
    assert math.isnan(values["hausdorff_distance"]["value"])
    assert math.isnan(values["hdf_std"]["value"])
    assert values["hausdorff_distance_nonNorm"]["value"] == 0.0
    path = write_summary_json(tmp_path / "s.json", summary)
    assert '"value": NaN' in path.read_text()  # what Python's json (and the toolkit) writes


def test_empty_set_is_a_scoring_error():
    with pytest.raises(ScoringError):
        summarize([])


def _summary(dice, recall, ppv, hd):
    values = dict.fromkeys(TOOLKIT_KEYS, 0.0)
    values.update(dice=dice, recall=recall, PPV=ppv, hausdorff_distance=hd)
    return {"EndoCV2021_seg": {k: {"value": v} for k, v in values.items()}}


def test_generalisation_score_follows_compute_seg_gen():
    seen = _summary(dice=0.80, recall=0.80, ppv=0.50, hd=0.40)
    unseen = _summary(dice=0.85, recall=0.60, ppv=0.70, hd=0.40)
    result = generalisation_score(seen, unseen)["EndoCV2021_seg_gen"]
    # dice within +-10 %: 0; recall below: |0.72 - 0.60|; PPV above the upper bound is measured from
    # the LOWER bound, as the toolkit does: |0.45 - 0.70|; 1 - HD equal: 0.
    expected_deviation = (0 + 0.12 + 0.25 + 0) / 4
    assert result["score_seg_g"]["value"] == pytest.approx(expected_deviation, abs=1e-12)
    assert result["seg_g_score"]["value"] == pytest.approx(
        (0.85 + 0.60 + 0.70 + 0.60) / 4, abs=1e-12
    )
    assert list(result) == ["seg_g_score", "score_seg_g"]


def test_load_summary_names_the_file_on_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"EndoCV2021_seg": {"dice": {"value": 1}}}))
    with pytest.raises(ScoringError, match="bad.json"):
        load_summary(bad)
    with pytest.raises(ScoringError, match="nothere.json"):
        load_summary(tmp_path / "nothere.json")
    good = write_summary_json(tmp_path / "good.json", _summary(0.8, 0.7, 0.6, 0.5))
    assert load_summary(good)["EndoCV2021_seg"]["recall"]["value"] == 0.7


def test_csv_has_the_exact_columns_and_round_trips(tmp_path):
    rows = [("case_1", _scores(dice=1 / 3)), ("b", _scores(hausdorff=math.sqrt(2)))]
    path = write_per_image_csv(tmp_path / "per_image.csv", rows)
    with path.open() as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["image", "jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff"]
    assert tuple(table[0]) == CSV_COLUMNS
    assert table[1][0] == "case_1" and float(table[1][2]) == 1 / 3
    assert float(table[2][7]) == math.sqrt(2)


def test_writers_never_overwrite_silently(tmp_path):
    path = write_summary_json(tmp_path / "s.json", _summary(0.8, 0.7, 0.6, 0.5))
    with pytest.raises(ScoringError, match="--overwrite"):
        write_summary_json(path, _summary(0.1, 0.1, 0.1, 0.1))
    assert load_summary(path)["EndoCV2021_seg"]["dice"]["value"] == 0.8
    write_summary_json(path, _summary(0.1, 0.1, 0.1, 0.1), overwrite=True)
    assert load_summary(path)["EndoCV2021_seg"]["dice"]["value"] == 0.1
