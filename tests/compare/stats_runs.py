"""Synthetic run folders for the statistics tests and benchmark: per-image scores only, no masks.

Each run folder has what ``compare`` reads: ``run.json``, ``timing.json``, and per set the
per-image CSV (``scores/<SET>.csv``) and a toolkit JSON of its means (``scores/<SET>.json``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRICS = ("jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff")
TOOLKIT = {
    "jaccard": "jaccard",
    "dice": "dice",
    "f2": "typeIIerror",
    "ppv": "PPV",
    "recall": "recall",
    "accuracy": "OverallAcc",
    "hausdorff": "hausdorff_distance",
}


def scores_for(rng: np.random.Generator, n: int, skill: float) -> dict[str, np.ndarray]:
    """Plausible per-image scores of a model of the given skill (about its mean Dice)."""
    dice = np.clip(rng.normal(skill, 0.12, n), 0, 1)
    dice[rng.random(n) < 0.15] = 1.0  # ties at the ceiling, as real Dice has
    return {
        "jaccard": dice / (2 - dice),
        "dice": dice,
        "f2": np.clip(dice + rng.normal(0, 0.03, n), 0, 1),
        "ppv": np.clip(dice + rng.normal(0.02, 0.05, n), 0, 1),
        "recall": np.clip(dice + rng.normal(-0.01, 0.05, n), 0, 1),
        "accuracy": np.clip(0.95 + 0.04 * dice + rng.normal(0, 0.01, n), 0, 1),
        "hausdorff": np.abs(rng.normal(40 * (1 - dice), 5, n)).round(3),
    }


def write_run(
    root: Path,
    name: str,
    sets: dict[str, tuple[Sequence[str], dict[str, np.ndarray]]],
    *,
    model: str | None = None,
    no_truth: Sequence[str] = (),
    exist_ok: bool = False,
) -> Path:
    """Write a run folder: ``sets`` maps a set to (image names, per-image scores)."""
    run_dir = root / name
    (run_dir / "scores").mkdir(parents=True, exist_ok=exist_ok)
    info_sets = {}
    for set_name, (images, values) in sets.items():
        with (run_dir / "scores" / f"{set_name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image", *METRICS])
            for i, image in enumerate(images):
                writer.writerow([image, *(repr(float(values[m][i])) for m in METRICS)])
        summary = {TOOLKIT[m]: {"value": float(np.mean(values[m]))} for m in METRICS}
        (run_dir / "scores" / f"{set_name}.json").write_text(
            json.dumps({"EndoCV2021_seg": summary})
        )
        info_sets[set_name] = {"images": len(images), "scores_json": f"scores/{set_name}.json"}
    for set_name in no_truth:
        info_sets[set_name] = {"images": 3}
    run = {"name": name, "config": {"model": model or name, "size": 288}, "sets": info_sets}
    (run_dir / "run.json").write_text(json.dumps(run))
    timing = {
        "conditions": {
            "device": "cpu",
            "device_name": "Test CPU",
            "dtype": "float32",
            "threads": 2,
        },
        "fps": {"fps": 20.0},
    }
    (run_dir / "timing.json").write_text(json.dumps(timing))
    return run_dir


def make_runs(
    root: Path, n_models: int = 3, n_sets: int = 2, n_images: int = 60, seed: int = 7
) -> list[Path]:
    """``n_models`` runs of different skill over ``n_sets`` sets of ``n_images`` images each."""
    rng = np.random.default_rng(seed)
    runs = []
    skills = np.linspace(0.88, 0.80, n_models)
    per_run: list[dict] = [{} for _ in range(n_models)]
    for s in range(n_sets):
        images = [f"img{s}_{i:04d}" for i in range(n_images)]
        for m in range(n_models):
            per_run[m][f"set{s}"] = (images, scores_for(rng, n_images, skills[m]))
    for m in range(n_models):
        runs.append(write_run(root, f"model{m}", per_run[m]))
    return runs
