"""Comparison plots: dot-and-box plots with confidence intervals and an FPS panel, and a
qualitative grid of predictions with per-cell Dice and TP/FP/FN colours.

Both are written as PNG and SVG with matplotlib's Agg backend, imported only when a plot is made.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from endobench.compare.overlays import (
    LEGEND,
    TRUTH_COLOUR,
    blend,
    error_overlay,
    load_triplet,
    thumbnail,
)
from endobench.compare.perimage import PER_IMAGE_METRICS, load_runs, read_per_image_csv
from endobench.compare.stats import StatsSettings, bootstrap_means
from endobench.compare.tables import METRICS, parse_metrics
from endobench.errors import ConfigError, EndobenchError
from endobench.leaderboard.records import (
    condition_key,
    describe_condition,
    load_sources,
    record_values,
)
from endobench.writers.manifest import read_manifest
from endobench.writers.masks import mask_path
from endobench.writers.run_folder import read_run_json, scores_paths


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_dir: Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` atomically."""
    from endobench.io import atomic_path

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        path = out_dir / f"{stem}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight")
        paths.append(path)
    return paths


def _per_image(sources: Sequence[str | Path]) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``{run: {set: {metric: values}}}`` for the run folders among the sources."""
    runs = load_runs([s for s in sources if Path(s).is_dir()])
    return {r.name: r.sets for r in runs}


def _draw_metric(ax, key: str, records, per_image, datasets, colours) -> None:
    width = 0.8 / max(1, len(records))
    settings = StatsSettings()
    for j, record in enumerate(records):
        run = str(record.get("run"))
        for d, dataset in enumerate(datasets):
            x = d + (j - (len(records) - 1) / 2) * width
            values = per_image.get(run, {}).get(dataset, {}).get(key)
            if values is not None:
                ax.boxplot(
                    values,
                    positions=[x],
                    widths=width * 0.7,
                    showfliers=False,
                    patch_artist=True,
                    boxprops={"facecolor": "none", "edgecolor": colours[j]},
                    medianprops={"color": colours[j]},
                    whiskerprops={"color": colours[j]},
                    capprops={"color": colours[j]},
                )
                jitter = np.random.default_rng(d * 101 + j).uniform(
                    -width * 0.25, width * 0.25, len(values)
                )
                ax.scatter(x + jitter, values, s=4, alpha=0.35, color=colours[j], linewidths=0)
                low, high, _ = bootstrap_means(values[None, :], settings)
                mean = float(values.mean())
                top = max(float(high[0]), float(np.percentile(values, 75)))
                ax.errorbar(
                    [x],
                    [mean],
                    yerr=[[mean - low[0]], [high[0] - mean]],
                    fmt="D",
                    color="black",
                    markersize=3.5,
                    capsize=3,
                    zorder=5,
                )
            else:
                mean = record_values(record, dataset).get(key)
                if mean is None:
                    continue
                ax.scatter([x], [mean], marker="D", s=14, color="black", zorder=5)
                top = mean
            ax.annotate(
                f"{mean:.1f}" if key == "hausdorff" else f"{mean:.3f}",
                (x, top),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=5.5,
                rotation=90 if len(records) > 3 else 0,
                va="bottom",
            )
    ax.set_title(METRICS[key][0] + ("" if METRICS[key][1] else " (lower is better)"), fontsize=9)
    ax.set_xticks(np.arange(len(datasets)), datasets, rotation=30, ha="right", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)


def _draw_fps(ax, records, colours) -> None:
    names = [str(r.get("run")) for r in records]
    fps = [(r.get("fps") or {}).get("fps") for r in records]
    for j, (value, record) in enumerate(zip(fps, records, strict=True)):
        if value is None:
            continue
        ax.barh([j], [value], color=colours[j], alpha=0.6)
        ax.annotate(
            f"{value:.1f} ({describe_condition(condition_key(record))})",
            (value, j),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=5.5,
        )
    ax.set_yticks(np.arange(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_title("FPS (forward pass, batch 1)", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.margins(x=0.6)


def plot_scores(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    metrics: Sequence[str] | str | None = None,
) -> list[Path]:
    """Draw one panel per metric (per set: each run's box, images as dots, mean with its 95 % BCa
    bootstrap CI, the mean written above) and a panel of FPS with its conditions.

    Args:
        sources: Run folders (per-image scores) or record files (means only).
        out_dir: Folder for ``scores.png`` and ``scores.svg``.
        metrics: Metrics to draw (default: the seven EndoCV2021 scores).

    Returns:
        The written files.
    """
    records = load_sources(sources)
    keys = [k for k in parse_metrics(metrics) if k != "fps"] if metrics else list(PER_IMAGE_METRICS)
    per_image = _per_image(sources)
    datasets: list[str] = []
    for record in records:
        datasets += [
            s for s, e in record.get("sets", {}).items() if e.get("scores") and s not in datasets
        ]
    if not datasets or not keys:
        raise ConfigError("nothing to plot: no run has scores for the chosen metrics")
    plt = _pyplot()
    panels = len(keys) + 1
    columns = min(4, panels)
    rows = -(-panels // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.4 * columns + 1, 2.9 * rows + 0.6), squeeze=False
    )
    colours = [plt.get_cmap("tab10")(j % 10) for j in range(len(records))]
    for ax, key in zip(axes.ravel(), keys, strict=False):
        _draw_metric(ax, key, records, per_image, datasets, colours)
    _draw_fps(axes.ravel()[len(keys)], records, colours)
    for ax in axes.ravel()[panels:]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=c, marker="s", linestyle="") for c in colours]
    fig.legend(
        handles,
        [str(r.get("run")) for r in records],
        loc="upper center",
        ncol=min(4, len(records)),
        fontsize=7,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    try:
        return save_figure(fig, Path(out_dir), "scores")
    finally:
        plt.close(fig)


def _per_image_dice(run_dir: Path, set_name: str) -> dict[str, float]:
    path = scores_paths(run_dir, set_name)["csv"]
    if not path.is_file():
        return {}
    names, values = read_per_image_csv(path)
    return dict(zip(names, values["dice"].tolist(), strict=True))


def choose_images(
    run_dirs: Sequence[str | Path],
    set_name: str,
    names: Sequence[str] | None = None,
    worst: int = 4,
) -> list[str]:
    """Return the images to show: the given names, or the ``worst`` by mean Dice over the runs.

    Raises:
        EndobenchError: A given name is not in the set, or no run has per-image scores.
    """
    manifest = read_manifest(run_dirs[0]).get(set_name, [])
    known = [e["name"] for e in manifest]
    if names:
        missing = [n for n in names if n not in known]
        if missing:
            raise EndobenchError(
                f"images not in set {set_name} of {run_dirs[0]}: {', '.join(missing[:5])}"
            )
        return list(names)
    tables = [_per_image_dice(Path(r), set_name) for r in run_dirs]
    if not any(tables):
        raise EndobenchError(
            f"no per-image scores for {set_name} in the runs; pass image names with --plot-images"
        )
    mean = {
        n: float(np.mean([t[n] for t in tables if n in t]))
        for n in known
        if any(n in t for t in tables)
    }
    return sorted(mean, key=lambda n: (mean[n], n))[:worst]


def _run_title(run_dir: Path) -> str:
    info = read_run_json(run_dir, required=False) or {}
    return str(info.get("name", run_dir.name))


def plot_qualitative(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    set_name: str | None = None,
    names: Sequence[str] | None = None,
    worst: int = 4,
    thumb_height: int = 160,
) -> list[Path]:
    """Draw a grid: one row per image (its full name above), columns image | truth | each run's
    prediction with TP, FP and FN pixels coloured apart and the image's Dice in the cell title.

    Args:
        run_dirs: Run folders (the first one's manifest gives the images and truth files).
        out_dir: Folder for ``qualitative.png`` and ``qualitative.svg``.
        set_name: The data set (default: the first set with ground truth in the first run).
        names: Images to show (default: the ``worst`` by mean Dice over the runs).
        worst: How many images to pick when ``names`` is not given.
        thumb_height: Height in pixels of every cell.

    Returns:
        The written files.
    """
    if not run_dirs:
        raise ConfigError("plot_qualitative needs at least one run folder")
    run_dirs = [Path(r) for r in run_dirs]
    manifest = read_manifest(run_dirs[0])
    if set_name is None:
        with_truth = [s for s, rows in manifest.items() if rows and rows[0].get("mask")]
        if not with_truth:
            raise EndobenchError(f"no set with ground truth in {run_dirs[0]}; pass --plot-set")
        set_name = with_truth[0]
    entries = {e["name"]: e for e in manifest.get(set_name, [])}
    chosen = choose_images(run_dirs, set_name, names, worst)
    dice = [_per_image_dice(r, set_name) for r in run_dirs]
    titles = ["image", "truth"] + [_run_title(r) for r in run_dirs]
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(chosen),
        len(titles),
        figsize=(2.0 * len(titles), 1.9 * len(chosen) + 0.7),
        squeeze=False,
    )
    for i, name in enumerate(chosen):
        image, truth, _ = load_triplet(entries[name], None)
        cells = [(image, ""), (blend(image, truth, TRUTH_COLOUR), "")]
        for run_dir, scores in zip(run_dirs, dice, strict=True):
            _, _, pred = load_triplet(entries[name], mask_path(run_dir, set_name, name))
            pred = np.zeros_like(truth) if pred is None else pred
            text = f"Dice {scores[name]:.3f}" if name in scores else "Dice –"
            cells.append((error_overlay(image, truth, pred), text))
        for j, (cell, text) in enumerate(cells):
            ax = axes[i][j]
            ax.imshow(thumbnail(cell, thumb_height))
            ax.set_xticks([])
            ax.set_yticks([])
            top = "\n".join(textwrap.wrap(str(titles[j]), 22)) + "\n" if i == 0 else ""
            label = "\n".join(textwrap.wrap(name, 28)) if j == 0 else text
            ax.set_title(top + label, fontsize=6)
    patches = [plt.Rectangle((0, 0), 1, 1, color=np.asarray(c) / 255) for _, c in LEGEND]
    fig.legend(
        patches, [n for n, _ in LEGEND], loc="lower center", ncol=3, fontsize=7, frameon=False
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    try:
        return save_figure(fig, Path(out_dir), "qualitative")
    finally:
        plt.close(fig)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (higher is better), by x."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox >= x and oy >= y) and (ox > x or oy > y)
            for j, (ox, oy) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def record_condition_labels(records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{run: condition in words}`` of each record's speed figure."""
    return {str(r.get("run")): describe_condition(condition_key(r)) for r in records}
