"""The statistics of ``compare --stats`` against scipy called directly and against plain loops."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps
from stats_runs import make_runs, scores_for, write_run

from endobench.compare.perimage import load_runs
from endobench.compare.stats import (
    StatsSettings,
    compute_stats,
    holm,
    kendall_tau_b,
    metric_stats,
)
from endobench.errors import EndobenchError


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("stats"), n_models=3, n_sets=2, n_images=60)


@pytest.fixture(scope="module")
def result(runs):
    return compute_stats(runs, settings=StatsSettings(n_resamples=400, seed=11))


def _values(runs, set_name, metric):
    return {r.name: r.sets[set_name][metric] for r in load_runs(runs)}


def test_confidence_intervals_equal_scipy_with_the_same_seed(runs, result):
    for set_name in ("set0", "set1"):
        for metric in ("dice", "hausdorff", "accuracy"):
            for run, values in _values(runs, set_name, metric).items():
                direct = sps.bootstrap(
                    (values,),
                    np.mean,
                    n_resamples=400,
                    method="BCa",
                    confidence_level=0.95,
                    rng=np.random.default_rng(11),
                )
                ours = result["sets"][set_name][metric]["models"][run]
                assert ours["ci_low"] == direct.confidence_interval.low
                assert ours["ci_high"] == direct.confidence_interval.high
                assert ours["mean"] == pytest.approx(float(np.mean(values)), abs=1e-15)
                q1, median, q3 = np.percentile(values, [25, 50, 75])
                assert (ours["median"], ours["q1"], ours["q3"]) == (median, q1, q3)


def test_p_values_equal_scipy_wilcoxon(runs, result):
    for set_name in ("set0", "set1"):
        for metric in ("dice", "hausdorff", "ppv"):
            values = _values(runs, set_name, metric)
            entry = result["sets"][set_name][metric]
            assert len(entry["pairs"]) == 6
            alternative = "less" if metric == "hausdorff" else "greater"
            for pair in entry["pairs"]:
                direct = sps.wilcoxon(
                    values[pair["a"]],
                    values[pair["b"]],
                    zero_method="wilcox",
                    alternative=alternative,
                )
                assert pair["p_value"] == pytest.approx(direct.pvalue, abs=1e-12, rel=0)
            expected = _holm_loop([p["p_value"] for p in entry["pairs"]])
            assert [p["p_holm"] for p in entry["pairs"]] == pytest.approx(
                expected, abs=1e-15, rel=0
            )


def _holm_loop(p_values):
    """Holm's step-down procedure written as the textbook loop."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * p_values[i]))
        adjusted[i] = running
    return adjusted


def test_holm_against_the_loop_and_known_values():
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = rng.random(rng.integers(1, 12)) ** 3
        assert holm(p).tolist() == pytest.approx(_holm_loop(p.tolist()), abs=1e-15)
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_identical_runs_get_p_one_and_share_the_rank(tmp_path):
    rng = np.random.default_rng(0)
    images = [f"i{k}" for k in range(30)]
    values = scores_for(rng, 30, 0.8)
    a = write_run(tmp_path, "a", {"s": (images, values)})
    b = write_run(tmp_path, "b", {"s": (images, values)}, model="other")
    entry = compute_stats([a, b], "dice", StatsSettings(n_resamples=200))["sets"]["s"]["dice"]
    assert [p["p_value"] for p in entry["pairs"]] == [1.0, 1.0]
    assert entry["models"]["a"]["rank"] == entry["models"]["b"]["rank"] == 1
    assert entry["rank_distribution"] == {"a": [200, 0], "b": [200, 0]}


def _plain_rank(means, higher):
    """Rank 1 = best; ties share the best rank (count of strictly better others + 1)."""
    ranks = []
    for i, mine in enumerate(means):
        better = sum(
            1
            for j, other in enumerate(means)
            if j != i and (other > mine if higher else other < mine)
        )
        ranks.append(better + 1)
    return ranks


def test_rank_stability_against_a_plain_loop(runs, result):
    for set_name, metric in (("set0", "dice"), ("set1", "hausdorff")):
        values = _values(runs, set_name, metric)
        names = list(values)
        higher = metric != "hausdorff"
        n = len(values[names[0]])
        indices = np.random.default_rng(11).integers(0, n, (400, n))
        full = _plain_rank([sum(values[r]) / n for r in names], higher)
        counts = {r: [0] * len(names) for r in names}
        taus = []
        for row in indices:
            means = [sum(values[r][i] for i in row) / n for r in names]
            ranks = _plain_rank(means, higher)
            for r, rank in zip(names, ranks, strict=True):
                counts[r][rank - 1] += 1
            taus.append(sps.kendalltau(full, ranks).statistic)
        entry = result["sets"][set_name][metric]
        assert entry["rank_distribution"] == counts
        assert [entry["models"][r]["rank"] for r in names] == full
        finite = [t for t in taus if t == t]
        assert entry["kendall_tau"]["mean"] == pytest.approx(np.mean(finite), abs=1e-12)
        assert entry["kendall_tau"]["median"] == pytest.approx(np.median(finite), abs=1e-12)


def test_kendall_tau_b_with_ties_equals_scipy():
    rng = np.random.default_rng(5)
    reference = np.array([1, 2, 2, 4, 5])
    rankings = rng.integers(1, 4, (5, 50))
    ours = kendall_tau_b(reference, rankings)
    for b in range(50):
        direct = sps.kendalltau(reference, rankings[:, b]).statistic
        assert (np.isnan(ours[b]) and np.isnan(direct)) or ours[b] == pytest.approx(
            direct, abs=1e-12
        )


def test_test_then_rank_and_bold_from_the_significance_map():
    rng = np.random.default_rng(1)
    base = np.clip(rng.normal(0.8, 0.1, 80), 0, 1)
    strong = base + 0.05 + rng.normal(0, 0.005, 80)
    twin = base + rng.normal(0, 0.005, 80)
    values = np.stack([strong, twin, base])
    entry = metric_stats(["strong", "twin", "base"], values, "dice", StatsSettings(n_resamples=200))
    significance = entry["significance"]
    assert significance["strong"] == ["twin", "base"]
    assert entry["models"]["strong"]["better_than_all_others"]
    assert not entry["models"]["twin"]["better_than_all_others"]
    wins = {r: len(v) for r, v in significance.items()}
    assert {r: entry["test_then_rank"][r]["wins"] for r in wins} == wins
    assert _plain_rank([wins[r] for r in ("strong", "twin", "base")], True) == [
        entry["test_then_rank"][r]["rank"] for r in ("strong", "twin", "base")
    ]


def test_consensus_is_the_mean_rank_across_sets(runs, result):
    consensus = result["consensus"]["dice"]
    for label in consensus["mean_rank"]:
        per_set = [result["sets"][s]["dice"]["models"][label]["rank"] for s in ("set0", "set1")]
        assert consensus["mean_rank"][label] == pytest.approx(np.mean(per_set))
    means = [consensus["mean_rank"][m] for m in sorted(consensus["mean_rank"])]
    assert [consensus["rank"][m] for m in sorted(consensus["rank"])] == _plain_rank(means, False)


def test_runs_on_different_images_are_refused_naming_them(tmp_path):
    rng = np.random.default_rng(2)
    images = [f"frame{k}" for k in range(12)]
    a = write_run(tmp_path, "a", {"kvasir": (images, scores_for(rng, 12, 0.8))})
    b = write_run(tmp_path, "b", {"kvasir": (images[2:], scores_for(rng, 10, 0.8))})
    with pytest.raises(EndobenchError) as err:
        compute_stats([a, b])
    message = str(err.value)
    assert "\n" not in message and "set kvasir: b lacks frame0, frame1" in message
    from endobench.compare import compare_runs

    with pytest.raises(EndobenchError, match="b lacks frame0, frame1"):
        compare_runs([a, b])


def test_json_schema_of_the_issue(runs, result):
    text = json.dumps(result, allow_nan=False)
    data = json.loads(text)
    assert set(data["sets"]) == {"set0", "set1"}
    entry = data["sets"]["set0"]["dice"]
    assert set(entry["models"]) == {"model0", "model1", "model2"}
    for model in entry["models"].values():
        assert {"mean", "ci_low", "ci_high", "median"} <= set(model)
    for pair in entry["pairs"]:
        assert {"a", "b", "p_value", "p_holm"} <= set(pair)
    assert set(data["sets"]["set0"]) == {
        "jaccard",
        "dice",
        "f2",
        "ppv",
        "recall",
        "accuracy",
        "hausdorff",
    }


def test_a_non_finite_per_image_score_is_a_one_line_error(tmp_path):
    rng = np.random.default_rng(9)
    images = [f"x{k}" for k in range(6)]
    values = scores_for(rng, 6, 0.8)
    values["hausdorff"][3] = np.nan
    run = write_run(tmp_path, "broken", {"s": (images, values)})
    with pytest.raises(EndobenchError, match=r"hausdorff of x3 is nan") as err:
        compute_stats([run])
    assert "\n" not in str(err.value)
