"""Comparison plots: grouped bars per metric and data set, and a qualitative grid of predictions.

Both are written as PNG and SVG with matplotlib's Agg backend, imported only when a plot is made.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from endobench.compare.tables import METRICS, parse_metrics
from endobench.errors import ConfigError, EndobenchError
from endobench.writers.masks import mask_path, read_prediction
from endobench.writers.run_folder import read_manifest, read_run_json, scores_paths

OVERLAY_COLOUR = np.array([0, 255, 0], dtype=np.float32)
TRUTH_COLOUR = np.array([255, 255, 0], dtype=np.float32)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    from endobench.io import atomic_path

    paths = []
    for ext in ("png", "svg"):
        path = out_dir / f"{stem}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight")
        paths.append(path)
    return paths


def plot_bars(
    records: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    metrics: Sequence[str] | str | None = None,
) -> list[Path]:
    """Draw one panel per metric; in each, bars grouped by data set, one bar per run.

    Args:
        records: Leaderboard records of the compared runs.
        out_dir: Folder for ``bars.png`` and ``bars.svg``.
        metrics: Metrics to draw (default: the seven EndoCV2021 scores; FPS is per run, not per set).

    Returns:
        The written files.
    """
    keys = (
        [k for k in parse_metrics(metrics) if k != "fps"]
        if metrics
        else [k for k in METRICS if k != "fps"]
    )
    datasets = []
    for record in records:
        for name, entry in record.get("sets", {}).items():
            if entry.get("scores") and name not in datasets:
                datasets.append(name)
    if not datasets or not keys:
        raise ConfigError("nothing to plot: no run has scores for the chosen metrics")
    plt = _pyplot()
    columns = min(4, len(keys))
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns + 1, 2.6 * rows + 0.6), squeeze=False
    )
    width = 0.8 / max(1, len(records))
    x = np.arange(len(datasets))
    labels = [f"{r.get('run')}" for r in records]
    for ax, key in zip(axes.ravel()[: len(keys)], keys, strict=True):
        for j, record in enumerate(records):
            values = [
                record.get("sets", {}).get(d, {}).get("scores", {}).get(key, np.nan)
                for d in datasets
            ]
            ax.bar(x + (j - (len(records) - 1) / 2) * width, values, width, label=labels[j])
        ax.set_title(
            METRICS[key][0] + ("" if METRICS[key][1] else " (lower is better)"), fontsize=9
        )
        ax.set_xticks(x, datasets, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    handles, names = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(
        handles, names, loc="upper center", ncol=min(4, len(records)), fontsize=7, frameon=False
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    try:
        return _save(fig, Path(out_dir), "bars")
    finally:
        plt.close(fig)


def _per_image_dice(run_dir: Path, set_name: str) -> dict[str, float]:
    path = scores_paths(run_dir, set_name)["csv"]
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["image"]: float(row["dice"]) for row in csv.DictReader(handle)}


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
            f"no per-image scores for {set_name} in the runs; pass image names with --images"
        )
    mean = {
        n: float(np.mean([t[n] for t in tables if n in t]))
        for n in known
        if any(n in t for t in tables)
    }
    return sorted(mean, key=lambda n: (mean[n], n))[:worst]


def _thumbnail(pixels: np.ndarray, height: int) -> np.ndarray:
    import cv2

    scale = height / pixels.shape[0]
    width = max(1, round(pixels.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
    return cv2.resize(pixels, (width, height), interpolation=interpolation)


def overlay(
    image: np.ndarray, mask: np.ndarray, colour: np.ndarray = OVERLAY_COLOUR, alpha: float = 0.45
) -> np.ndarray:
    """Return ``image`` (HxWx3 uint8) with ``mask`` blended in ``colour``."""
    out = image.astype(np.float32).copy()
    out[mask] = (1 - alpha) * out[mask] + alpha * colour
    return out.astype(np.uint8)


def plot_qualitative(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    set_name: str | None = None,
    names: Sequence[str] | None = None,
    worst: int = 4,
    thumb_height: int = 160,
) -> list[Path]:
    """Draw a grid: one row per image, columns image | truth | each run's mask as an overlay.

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
    from endobench.data import read_image, read_mask

    if not run_dirs:
        raise ConfigError("plot_qualitative needs at least one run folder")
    run_dirs = [Path(r) for r in run_dirs]
    manifest = read_manifest(run_dirs[0])
    if set_name is None:
        with_truth = [s for s, rows in manifest.items() if rows and rows[0].get("mask")]
        if not with_truth:
            raise EndobenchError(f"no set with ground truth in {run_dirs[0]}; pass images to show")
        set_name = with_truth[0]
    entries = {e["name"]: e for e in manifest.get(set_name, [])}
    chosen = choose_images(run_dirs, set_name, names, worst)
    titles = ["image", "truth"] + [
        read_run_json(r, required=False).get("name", r.name)
        if (r / "run.json").is_file()
        else r.name
        for r in run_dirs
    ]
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(chosen),
        len(titles),
        figsize=(1.9 * len(titles), 1.6 * len(chosen) + 0.4),
        squeeze=False,
    )
    for i, name in enumerate(chosen):
        entry = entries[name]
        image = read_image(entry["file"])
        truth = read_mask(entry["mask"]) if entry.get("mask") else np.zeros(image.shape[:2], bool)
        cells = [image, overlay(image, truth, TRUTH_COLOUR)]
        for run_dir in run_dirs:
            path = mask_path(run_dir, set_name, name)
            pred = read_prediction(path) if path.is_file() else np.zeros(image.shape[:2], bool)
            cells.append(overlay(image, pred))
        for j, cell in enumerate(cells):
            ax = axes[i][j]
            ax.imshow(_thumbnail(cell, thumb_height))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(str(titles[j]), fontsize=7)
            if j == 0:
                ax.set_ylabel(name[:18], fontsize=6)
    fig.tight_layout()
    try:
        return _save(fig, Path(out_dir), "qualitative")
    finally:
        plt.close(fig)
