"""Figures of the HTML report, each returned as an SVG data URI (no file, no network).

Dot-and-box plots per metric, the significance map and the blob plot of each set, and the
Dice-vs-FPS scatter with its Pareto front.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from endobench.compare.plots import pareto_front
from endobench.compare.tables import METRICS
from endobench.leaderboard.records import condition_key, describe_condition


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def svg_uri(fig) -> str:
    """Return a figure as an ``data:image/svg+xml;base64,...`` URI and close it."""
    plt = _pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _title(metric: str) -> str:
    return "Hdf (px)" if metric == "hausdorff" else METRICS[metric][0]


def dot_and_box(
    metric: str, by_set: Mapping[str, tuple[list[str], np.ndarray]], stats: Mapping[str, Any]
) -> str:
    """One panel per set: each run's box, its images as dots, its mean with the bootstrap CI.

    Args:
        metric: The metric.
        by_set: ``{SET: (runs, runs x images values)}``.
        stats: ``compute_stats(...)["sets"]``.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(by_set), figsize=(2.6 * len(by_set) + 0.8, 3.0), squeeze=False)
    for ax, (set_name, (runs, values)) in zip(axes[0], by_set.items(), strict=True):
        positions = np.arange(len(runs))
        ax.boxplot(list(values), positions=positions, widths=0.55, showfliers=False)
        rng = np.random.default_rng(0)
        for i, row in enumerate(values):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(row)), row, s=4, alpha=0.35, linewidths=0)
            model = stats[set_name][metric]["models"][runs[i]]
            mean = model["mean"]
            low = model["ci_low"] if model["ci_low"] is not None else mean
            high = model["ci_high"] if model["ci_high"] is not None else mean
            ax.errorbar(
                [i],
                [mean],
                yerr=[[mean - low], [high - mean]],
                fmt="D",
                color="black",
                markersize=4,
                capsize=4,
                zorder=5,
            )
            ax.annotate(
                f"{mean:.1f}" if metric == "hausdorff" else f"{mean:.3f}",
                (i, high),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=6,
            )
        ax.set_xticks(positions, runs, rotation=30, ha="right", fontsize=7)
        ax.set_title(set_name, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    direction = "" if METRICS[metric][1] else " (lower is better)"
    fig.suptitle(f"{_title(metric)}{direction}: per image, mean with 95 % CI", fontsize=9)
    fig.tight_layout()
    return svg_uri(fig)


def significance_map(set_name: str, metric: str, entry: Mapping[str, Any]) -> str:
    """Heat map of Holm-adjusted p-values that the row beats the column; significant cells marked."""
    plt = _pyplot()
    runs = list(entry["models"])
    order = sorted(runs, key=lambda r: entry["models"][r]["rank"])
    k = len(order)
    grid = np.full((k, k), np.nan)
    by_pair = {(p["a"], p["b"]): p for p in entry["pairs"]}
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            if a != b:
                grid[i, j] = by_pair[(a, b)]["p_holm"]
    from matplotlib.colors import ListedColormap

    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * k, 0.8 + 0.6 * k))
    categories = np.where(np.isnan(grid), 0, np.where(grid < 0.05, 2, 1))
    ax.imshow(categories, cmap=ListedColormap(["#ffffff", "#e6e6e6", "#1f7a6d"]), vmin=0, vmax=2)
    for i in range(k):
        for j in range(k):
            if i != j:
                significant = grid[i, j] < 0.05
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.2g}" + ("\n✓" if significant else ""),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if significant else "black",
                )
    ax.set_xticks(range(k), order, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(k), order, fontsize=7)
    ax.set_xlabel("… is better than this column", fontsize=7)
    ax.set_ylabel("this row …", fontsize=7)
    ax.set_title(f"{set_name}: Holm-adjusted p ({_title(metric)}); ✓ < 0.05", fontsize=8)
    fig.tight_layout()
    return svg_uri(fig)


def blob_plot(set_name: str, metric: str, entry: Mapping[str, Any]) -> str:
    """Bootstrap rank distribution of each run: circle area = share of resamples at that rank."""
    plt = _pyplot()
    runs = sorted(entry["models"], key=lambda r: entry["models"][r]["rank"])
    k = len(runs)
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * k, 2.8))
    for i, run in enumerate(runs):
        counts = np.asarray(entry["rank_distribution"][run], dtype=float)
        share = counts / max(1.0, counts.sum())
        ranks = np.nonzero(share)[0]
        ax.scatter([i] * len(ranks), ranks + 1, s=600 * share[ranks], alpha=0.6)
        ax.scatter([i], [entry["models"][run]["rank"]], marker="x", color="black", s=25)
    ax.set_xticks(range(k), runs, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(1, k + 1))
    ax.set_ylim(k + 0.6, 0.4)
    ax.set_ylabel("rank", fontsize=7)
    tau = entry["kendall_tau"]["mean"]
    extra = "" if tau is None else f", mean Kendall τ {tau:.2f}"
    ax.set_title(f"{set_name}: bootstrap ranks by {_title(metric)}{extra}", fontsize=8)
    fig.tight_layout()
    return svg_uri(fig)


def dice_vs_fps(
    set_name: str, entry: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> str | None:
    """Scatter of mean Dice (with CI) against FPS, the Pareto front drawn; None without FPS."""
    by_run = {str(r.get("run")): r for r in records}
    points, names = [], []
    for run, model in entry["models"].items():
        fps = (by_run.get(run, {}).get("fps") or {}).get("fps")
        if fps is not None:
            points.append((float(fps), model["mean"]))
            names.append(run)
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for (fps, dice), run in zip(points, names, strict=True):
        model = entry["models"][run]
        low = model["ci_low"] if model["ci_low"] is not None else dice
        high = model["ci_high"] if model["ci_high"] is not None else dice
        ax.errorbar([fps], [dice], yerr=[[dice - low], [high - dice]], fmt="o", capsize=3)
        ax.annotate(run, (fps, dice), xytext=(4, 4), textcoords="offset points", fontsize=6)
    front = pareto_front(points)
    ax.plot(
        [points[i][0] for i in front],
        [points[i][1] for i in front],
        "--",
        color="grey",
        label="Pareto front",
    )
    conditions = {describe_condition(condition_key(by_run[r])) for r in names}
    ax.set_xlabel("FPS (" + "; ".join(sorted(conditions)) + ")", fontsize=6)
    ax.set_ylabel("mean Dice (EndoCV)", fontsize=7)
    ax.set_title(f"{set_name}: Dice vs speed", fontsize=8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return svg_uri(fig)
