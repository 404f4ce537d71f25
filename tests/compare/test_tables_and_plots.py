"""Table labels, the Pareto front and the TP/FP/FN overlay colours."""

from __future__ import annotations

import numpy as np

from endobench.compare import build_table, render_table
from endobench.compare.overlays import FN_COLOUR, FP_COLOUR, TP_COLOUR, error_overlay
from endobench.compare.plots import pareto_front


def _record(run, model, set_name, dice, size=288):
    return {
        "run": run,
        "model": model,
        "size": size,
        "sets": {set_name: {"images": 5, "scores": {"dice": dice}}},
        "fps": {"fps": 10.0},
        "device_name": "CPU",
        "dtype": "float32",
        "threads": 2,
    }


def test_same_model_on_another_set_keeps_the_model_name():
    records = [
        _record("brp_lite-20261201-1200", "brp_lite", "kvasir", 0.88),
        _record("brp_lite-20261201-1300", "brp_lite", "clinicdb", 0.87),
        _record("pranet-20261201-1400", "pranet", "kvasir", 0.89),
    ]
    table = build_table(records, "dice")
    assert [(r.dataset, r.label) for r in table.rows] == [
        ("kvasir", "brp_lite"),
        ("kvasir", "pranet"),
        ("clinicdb", "brp_lite"),
    ]
    # Two runs of one model and size in one set: the run names tell them apart.
    twice = build_table([*records, _record("brp_lite-again", "brp_lite", "kvasir", 0.5)], "dice")
    assert {r.label for r in twice.rows if r.dataset == "kvasir"} == {
        "brp_lite-20261201-1200",
        "pranet",
        "brp_lite-again",
    }
    assert "brp_lite-20261201-1300" not in render_table(twice, "md")


def test_standard_metric_titles_and_groups_parse():
    from endobench.compare.tables import parse_metrics

    assert parse_metrics("mDice,Sα,Eφ,HD95") == ["mdice", "s_alpha", "e_phi_max", "hd95"]
    assert parse_metrics("standard") == [
        "mdice",
        "miou",
        "s_alpha",
        "e_phi_max",
        "fw_beta",
        "mae",
        "hd95",
    ]
    assert parse_metrics("Dice,mDice") == ["dice", "mdice"]


def test_pareto_front_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        points = [tuple(p) for p in rng.integers(0, 6, (8, 2)).astype(float)]
        expected = [
            i
            for i, (x, y) in enumerate(points)
            if not any(ox >= x and oy >= y and (ox, oy) != (x, y) for ox, oy in points)
        ]
        assert sorted(pareto_front(points)) == expected


def test_overlay_colours_tp_fp_fn_apart():
    image = np.full((2, 2, 3), 100, np.uint8)
    truth = np.array([[True, True], [False, False]])
    pred = np.array([[True, False], [True, False]])
    out = error_overlay(image, truth, pred, alpha=1.0)
    assert out[0, 0].tolist() == TP_COLOUR.astype(np.uint8).tolist()
    assert out[1, 0].tolist() == FP_COLOUR.astype(np.uint8).tolist()
    assert out[0, 1].tolist() == FN_COLOUR.astype(np.uint8).tolist()
    assert out[1, 1].tolist() == [100, 100, 100]


def test_detection_columns_only_where_frames_can_be_told_apart():
    from endobench.compare.tables import default_metrics

    positive_only = _record("a", "m", "kvasir", 0.9)
    positive_only["sets"]["kvasir"]["detection"] = {
        "n_positive_frames": 5,
        "n_negative_frames": 0,
        "sensitivity": 1.0,
        "fp_frame_rate": None,
    }
    assert "sensitivity" not in default_metrics([positive_only])
    mixed = _record("b", "m", "polypgen", 0.7)
    mixed["sets"]["polypgen"]["detection"] = {
        "n_positive_frames": 5,
        "n_negative_frames": 20,
        "sensitivity": 0.8,
        "fp_frame_rate": 0.1,
        "specificity": 0.9,
        "auroc": 0.93,
    }
    metrics = default_metrics([positive_only, mixed])
    assert metrics[-5:] == ["fp_frame_rate", "sensitivity", "specificity", "auroc", "fps"]
    text = render_table(build_table([positive_only, mixed]), "md")
    assert "| 0.9300 |" in text.split("| polypgen |")[1]
