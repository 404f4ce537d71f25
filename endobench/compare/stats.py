"""Statistics of a comparison: bootstrap CIs, paired tests, ranking stability, consensus.

Everything works from the per-image scores in the run folders (``scores/<SET>.csv``); no model
runs. For each set and metric (a column of that CSV):

- each run's mean with a BCa bootstrap confidence interval (``scipy.stats.bootstrap``, vectorised,
  a fresh ``numpy.random.default_rng(seed)`` per set and metric, so every run is resampled with the
  same image indices), its median and inter-quartile range;
- for each ordered pair (A, B) the one-sided Wilcoxon signed-rank p-value that A is better
  (``zero_method='wilcox'``; ``alternative='greater'``, or ``'less'`` where lower is better;
  p = 1 when every difference is zero), Holm-adjusted over all pairs of that set and metric;
- the significance map (A significantly better than B at ``alpha`` after Holm);
- ranking stability, as challengeR computes it: in each bootstrap resample of the images (the
  resamples of the CI above), aggregate by the mean, rank (ties take the best rank), and collect
  the rank distribution of each run (the data of a blob plot) and Kendall's tau-b between each
  resample's ranking and the ranking on all images;
- test-then-rank: runs ranked by how many others they are significantly better than.

Across sets, the consensus ranking is the mean of the per-set ranks of each run.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from endobench.compare.perimage import (
    LOWER_IS_BETTER,
    PER_IMAGE_METRICS,
    RunScores,
    check_finite,
    check_same_images,
    load_runs,
    set_matrix,
    sets_of,
)
from endobench.errors import ConfigError

#: Elements resampled at once (runs x resamples x images); larger problems go in batches.
MAX_RESAMPLED_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class StatsSettings:
    """How the statistics are computed."""

    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    alpha: float = 0.05
    method: str = "BCa"


def _mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(values, axis=axis)


def bootstrap_means(
    values: np.ndarray, settings: StatsSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap the mean of each row of ``values`` (runs x images).

    Each row is one vectorised ``scipy.stats.bootstrap`` call with a fresh
    ``numpy.random.default_rng(seed)``: its interval is exactly scipy's for that row alone, and
    every row is resampled with the same image indices (paired resamples for the rankings).

    Returns:
        ``(ci_low, ci_high, distribution)``; ``distribution`` is runs x resamples. A row whose
        values are all equal gets the interval ``[value, value]`` (BCa is undefined there).
    """
    values = np.asarray(values, dtype=np.float64)
    rows, n = values.shape
    if n < 2:
        means = values.mean(axis=-1)
        return means.copy(), means.copy(), np.repeat(means[:, None], settings.n_resamples, axis=1)
    low, high = np.empty(rows), np.empty(rows)
    distribution = np.empty((rows, settings.n_resamples))
    for row in range(rows):
        low[row], high[row], distribution[row] = _bootstrap_row(values[row], settings)
    return low, high, distribution


def _bootstrap_row(values: np.ndarray, settings: StatsSettings) -> tuple[float, float, np.ndarray]:
    from scipy import stats

    if np.ptp(values) == 0:
        return float(values[0]), float(values[0]), np.full(settings.n_resamples, values[0])
    batch = max(1, MAX_RESAMPLED_ELEMENTS // len(values))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (values,),
            _mean,
            n_resamples=settings.n_resamples,
            batch=None if batch >= settings.n_resamples else batch,
            vectorized=True,
            confidence_level=settings.confidence,
            method=settings.method,
            rng=np.random.default_rng(settings.seed),
        )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high), np.asarray(result.bootstrap_distribution)


def wilcoxon_greater(a: np.ndarray, b: np.ndarray, higher_is_better: bool = True) -> float:
    """One-sided Wilcoxon signed-rank p-value that ``a`` is better than ``b`` (paired by image).

    ``scipy.stats.wilcoxon(a, b, zero_method='wilcox', alternative='greater' | 'less')``; 1.0 when
    every difference is zero.
    """
    from scipy import stats

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if not np.any(a - b):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.wilcoxon(
            a, b, zero_method="wilcox", alternative="greater" if higher_is_better else "less"
        )
    return float(result.pvalue)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def rank_rows(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Rank along axis 0 (1 = best; ties share the best rank, as challengeR's ``ties.method='min'``)."""
    from scipy.stats import rankdata

    keyed = -np.asarray(scores, dtype=np.float64) if higher_is_better else np.asarray(scores)
    return rankdata(keyed, method="min", axis=0).astype(np.int64)


def kendall_tau_b(reference: np.ndarray, rankings: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between one ranking (k,) and each column of ``rankings`` (k x B).

    NaN where a ranking is all ties (tau-b undefined), as ``scipy.stats.kendalltau``.
    """
    reference = np.asarray(reference, dtype=np.float64)
    rankings = np.asarray(rankings, dtype=np.float64)
    upper_i, upper_j = np.triu_indices(len(reference), k=1)
    ref_sign = np.sign(reference[upper_i] - reference[upper_j])[:, None]
    boot_sign = np.sign(rankings[upper_i] - rankings[upper_j])
    numerator = np.sum(ref_sign * boot_sign, axis=0)
    denominator = np.sqrt(np.count_nonzero(ref_sign) * np.count_nonzero(boot_sign, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _pairs(
    names: Sequence[str], values: np.ndarray, higher: bool, alpha: float
) -> tuple[list[dict], np.ndarray]:
    index = [(i, j) for i in range(len(names)) for j in range(len(names)) if i != j]
    p_values = [wilcoxon_greater(values[i], values[j], higher) for i, j in index]
    adjusted = holm(p_values) if p_values else np.array([])
    significant = np.zeros((len(names), len(names)), dtype=bool)
    pairs = []
    for (i, j), p, p_holm in zip(index, p_values, adjusted, strict=True):
        significant[i, j] = p_holm < alpha
        pairs.append(
            {
                "a": names[i],
                "b": names[j],
                "p_value": p,
                "p_holm": float(p_holm),
                "significant": bool(p_holm < alpha),
            }
        )
    return pairs, significant


def metric_stats(
    names: Sequence[str], values: np.ndarray, metric: str, settings: StatsSettings
) -> dict[str, Any]:
    """Statistics of one set and metric.

    Args:
        names: The runs (rows of ``values``).
        values: Per-image scores, runs x images, images aligned across runs.
        metric: The metric (decides the direction: lower is better for ``hausdorff``).
        settings: Resamples, confidence, seed, alpha.

    Returns:
        ``{"higher_is_better", "n_images", "models": {RUN: {...}}, "pairs": [...],
        "significance": {RUN: [runs it beats]}, "rank_distribution": {RUN: [count at rank 1..k]},
        "kendall_tau": {...}, "test_then_rank": {RUN: {"wins", "rank"}}}``.
    """
    higher = metric not in LOWER_IS_BETTER
    values = np.asarray(values, dtype=np.float64)
    k = len(names)
    means = values.mean(axis=1)
    low, high, distribution = bootstrap_means(values, settings)
    full_rank = rank_rows(means, higher)
    boot_ranks = rank_rows(distribution, higher)
    taus = kendall_tau_b(full_rank, boot_ranks)
    pairs, significant = _pairs(names, values, higher, settings.alpha)
    wins = significant.sum(axis=1)
    ttr = rank_rows(wins, True)
    q1, median, q3 = np.percentile(values, [25, 50, 75], axis=1)
    models = {}
    for i, name in enumerate(names):
        models[name] = {
            "mean": float(means[i]),
            "ci_low": float(low[i]),
            "ci_high": float(high[i]),
            "median": float(median[i]),
            "q1": float(q1[i]),
            "q3": float(q3[i]),
            "iqr": float(q3[i] - q1[i]),
            "n": int(values.shape[1]),
            "rank": int(full_rank[i]),
            "mean_bootstrap_rank": float(boot_ranks[i].mean()),
            "better_than_all_others": bool(k > 1 and significant[i].sum() == k - 1),
        }
    finite = taus[np.isfinite(taus)]
    return {
        "higher_is_better": higher,
        "n_images": int(values.shape[1]),
        "models": models,
        "pairs": pairs,
        "significance": {
            names[i]: [names[j] for j in range(k) if significant[i, j]] for i in range(k)
        },
        "rank_distribution": {
            names[i]: np.bincount(boot_ranks[i] - 1, minlength=k).astype(int).tolist()
            for i in range(k)
        },
        "kendall_tau": {
            "mean": float(finite.mean()) if finite.size else None,
            "median": float(np.median(finite)) if finite.size else None,
            "q05": float(np.quantile(finite, 0.05)) if finite.size else None,
            "undefined": int(taus.size - finite.size),
        },
        "test_then_rank": {names[i]: {"wins": int(wins[i]), "rank": int(ttr[i])} for i in range(k)},
    }


def parse_stat_metrics(metrics: Iterable[str] | str | None) -> list[str]:
    """Return per-image metric keys from names or titles (``dice``, ``Dice``, ``Hdf``...).

    Raises:
        ConfigError: A metric without per-image values (FPS, the standard metrics).
    """
    from endobench.compare.tables import parse_metrics

    if metrics is None:
        return list(PER_IMAGE_METRICS)
    keys = parse_metrics(metrics)
    other = [k for k in keys if k not in PER_IMAGE_METRICS]
    if other:
        raise ConfigError(
            f"--stats works on per-image scores; {', '.join(other)} has none: choose from "
            + ", ".join(PER_IMAGE_METRICS)
        )
    return keys


def consensus(sets: dict[str, dict[str, Any]], labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Consensus ranking per metric: each entity's mean rank across the sets where all appear.

    Args:
        sets: The ``"sets"`` part of :func:`compute_stats`'s result.
        labels: ``{SET: {RUN: label}}``; a label names a model across sets (the run's model, or the
            run where a model has several runs in a set).
    """
    out: dict[str, Any] = {}
    if len(sets) < 2:
        return out
    common = set.intersection(*(set(labels[s].values()) for s in sets))
    metrics = sorted(
        set.intersection(*(set(m) for m in sets.values())), key=PER_IMAGE_METRICS.index
    )
    for metric in metrics:
        entities = sorted(common)
        if len(entities) < 2:
            continue
        ranks = {}
        for set_name, by_metric in sets.items():
            entry = by_metric[metric]
            chosen = {
                labels[set_name][run]: m["mean"]
                for run, m in entry["models"].items()
                if labels[set_name][run] in common
            }
            ranks[set_name] = dict(
                zip(
                    entities,
                    rank_rows(
                        np.array([chosen[e] for e in entities]), entry["higher_is_better"]
                    ).tolist(),
                    strict=True,
                )
            )
        mean_rank = {e: float(np.mean([ranks[s][e] for s in sets])) for e in entities}
        final = rank_rows(np.array([mean_rank[e] for e in entities]), False)
        out[metric] = {
            "sets": list(sets),
            "ranks": ranks,
            "mean_rank": mean_rank,
            "rank": dict(zip(entities, final.tolist(), strict=True)),
        }
    return out


def set_labels(runs: Sequence[RunScores], set_name: str) -> dict[str, str]:
    """Return ``{run: label}`` for a set: the model name, or the run name where models repeat."""
    having = [r for r in runs if set_name in r.sets]
    models = [r.model for r in having]
    return {r.name: r.model if models.count(r.model) == 1 else r.name for r in having}


def compute_stats(
    run_dirs: Iterable[str | os.PathLike],
    metrics: Iterable[str] | str | None = None,
    settings: StatsSettings | None = None,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Compute the statistics of a comparison of run folders.

    Args:
        run_dirs: Finished run folders (RUN is each folder's name).
        metrics: Per-image metrics (default: all seven CSV columns).
        settings: Resamples (1000), confidence (0.95), seed (0), alpha (0.05).
        progress: Called with 1 after each set and metric.

    Returns:
        ``{"sets": {SET: {METRIC: metric_stats(...)}}, "consensus": {...}, "runs": {...},
        "settings": {...}, "without_truth": {RUN: [sets]}}``.

    Raises:
        EndobenchError: Runs scored different images of a shared set, or none has scores.
    """
    settings = settings or StatsSettings()
    keys = parse_stat_metrics(metrics)
    runs = load_runs(run_dirs)
    check_same_images(runs)
    check_finite(runs)
    set_names = sets_of(runs)
    if not set_names:
        raise ConfigError("none of the given runs has per-image scores (no set with ground truth)")
    result: dict[str, Any] = {"sets": {}}
    labels = {s: set_labels(runs, s) for s in set_names}
    for set_name in set_names:
        result["sets"][set_name] = {}
        for metric in keys:
            names, values = set_matrix(runs, set_name, metric)
            result["sets"][set_name][metric] = metric_stats(names, values, metric, settings)
            if progress is not None:
                progress(1)
    result["consensus"] = consensus(result["sets"], labels)
    result["labels"] = labels
    result["runs"] = {
        r.name: {"model": r.model, "path": str(r.path), "sets": list(r.sets)} for r in runs
    }
    result["without_truth"] = {r.name: r.without_truth for r in runs if r.without_truth}
    result["settings"] = asdict(settings) | {
        "test": "one-sided Wilcoxon signed-rank, zero_method='wilcox', Holm per set and metric"
    }
    return _finite(result)


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities by None so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
