"""Run folders with real images for the report tests: the bundled sample, predictions made by
shifting, growing or shrinking the truth, per-image scores computed from those masks."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from stats_runs import METRICS, write_run

from endobench.data import read_mask
from endobench.metrics import mask_dice
from endobench.writers.masks import mask_path, write_mask


def _variant(truth: np.ndarray, kind: str, step: int) -> np.ndarray:
    mask = truth.astype(np.uint8)
    kernel = np.ones((2 * step + 1,) * 2, np.uint8)
    if kind == "grow":
        mask = cv2.dilate(mask, kernel)
    elif kind == "shrink":
        mask = cv2.erode(mask, kernel)
    elif kind == "shift":
        mask = np.roll(mask, step * 3, axis=1)
    return mask > 0


def make_report_runs(root: Path, sample_root: Path, fps: dict[str, float]) -> list[Path]:
    """Three runs (grow, shrink, shift) over the sample's kvasir and clinicdb sets."""
    kinds = {"grown": "grow", "shrunk": "shrink", "shifted": "shift"}
    manifest: dict[str, list[dict]] = {}
    per_run: dict[str, dict] = {name: {} for name in kinds}
    for set_name in ("kvasir", "clinicdb"):
        entries = []
        images = sorted((sample_root / set_name / "images").iterdir())
        for index, image in enumerate(images):
            mask_file = next((sample_root / set_name / "masks").glob(image.stem + ".*"))
            truth = read_mask(mask_file)
            entries.append(
                {
                    "id": f"{set_name}/{image.stem}",
                    "name": image.stem,
                    "file": str(image),
                    "mask": str(mask_file),
                    "height": truth.shape[0],
                    "width": truth.shape[1],
                }
            )
            for run, kind in kinds.items():
                pred = _variant(truth, kind, 2 + index % 4)
                write_mask(mask_path(root / run, set_name, image.stem), pred)
                scores = per_run[run].setdefault(set_name, ([], {m: [] for m in METRICS}))
                scores[0].append(image.stem)
                dice = mask_dice(pred, truth)
                for metric in METRICS:
                    value = float(np.sum(pred != truth)) if metric == "hausdorff" else dice
                    scores[1][metric].append(value)
        manifest[set_name] = entries
    runs = []
    for run in kinds:
        sets = {
            s: (names, {m: np.array(v) for m, v in values.items()})
            for s, (names, values) in per_run[run].items()
        }
        (root / run / "scores").mkdir(parents=True, exist_ok=True)
        run_dir = write_run(root, run, sets, exist_ok=True)
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
        timing = json.loads((run_dir / "timing.json").read_text())
        timing["fps"]["fps"] = fps[run]
        (run_dir / "timing.json").write_text(json.dumps(timing))
        runs.append(run_dir)
    return runs
