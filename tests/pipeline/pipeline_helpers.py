"""Helpers of the pipeline tests: hand-made run folders built from the bundled sample.

A hand-made run is what ``endobench run`` writes, made without a model: its predictions are the
truth masks eroded or dilated by a few pixels (so the scores differ between runs and are known to
be below 1), scored by the real scorer through :func:`endobench.runner.scoring.score_set`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from endobench.io import write_json_atomic
from endobench.writers.manifest import write_manifest
from endobench.writers.masks import mask_path, write_mask
from endobench.writers.run_folder import RunFolder, write_run_json
from endobench.writers.time_file import write_time_file


def copy_sample(
    sample_root: Path, dest: Path, set_name: str = "clinicdb", count: int = 4
) -> tuple[Path, Path]:
    """Copy ``count`` pairs of a bundled sample set into ``dest/{images,masks}``."""
    images, masks = dest / "images", dest / "masks"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for path in sorted((sample_root / set_name / "images").iterdir())[:count]:
        shutil.copy(path, images / path.name)
        mask = next((sample_root / set_name / "masks").glob(path.stem + ".*"))
        shutil.copy(mask, masks / mask.name)
    return images, masks


def make_run(
    root: Path,
    name: str,
    images: Path,
    masks: Path,
    *,
    set_name: str = "clinicdb",
    model: str = "tiny",
    size: int = 64,
    grow: int = 0,
    fps: float = 100.0,
    device_name: str = "Test CPU",
    dtype: str = "float32",
) -> Path:
    """Write a finished run folder whose predictions are the truths grown (>0) or shrunk (<0)."""
    from endobench.data.readers import read_mask
    from endobench.runner.scoring import score_set

    run_dir = root / name
    entries = []
    times = []
    for index, image in enumerate(sorted(images.iterdir())):
        mask_file = next(masks.glob(image.stem + ".*"))
        truth = read_mask(mask_file)
        kernel = np.ones((2 * abs(grow) + 1,) * 2, np.uint8)
        pred = truth.astype(np.uint8)
        if grow > 0:
            pred = cv2.dilate(pred, kernel)
        elif grow < 0:
            pred = cv2.erode(pred, kernel)
        write_mask(mask_path(run_dir, set_name, image.stem), pred.astype(bool))
        entries.append(
            {
                "id": f"{set_name}/{image.stem}",
                "name": image.stem,
                "file": str(image),
                "mask": str(mask_file),
                "negative": False,
                "height": truth.shape[0],
                "width": truth.shape[1],
                "sha256": "x",
            }
        )
        times.append((image.stem, 10.0 + index))
    write_manifest(run_dir, {set_name: entries})
    write_time_file(run_dir, set_name, times)
    scores = score_set(run_dir, set_name, entries, use_prob=False)
    paths = RunFolder(run_dir).write_scores(set_name, scores.summary, scores.rows, scores.standard)
    write_run_json(
        run_dir,
        {
            "name": name,
            "status": "complete",
            "config": {"model": model, "size": size, "dtype": dtype, "batch_size": 1},
            "weights_sha256": "0" * 64,
            "manifest_sha256": "1" * 64,
            "environment": {"endobench": "test", "git_commit": "abcdef1234567890"},
            "sets": {
                set_name: {
                    "images": len(entries),
                    "scores_json": str(paths["json"].relative_to(run_dir)),
                }
            },
        },
    )
    write_json_atomic(
        run_dir / "timing.json",
        {
            "conditions": {
                "input_size": size,
                "dtype": dtype,
                "device": "cpu",
                "device_name": device_name,
                "threads": 2,
            },
            "fps": {
                "fps": fps,
                "median_ms": 1000 / fps,
                "p90_ms": 1100 / fps,
                "images_timed": len(entries),
                "definition": "test",
            },
            "throughput": {"images_per_s": fps * 1.5, "batch_size": 1},
            "end_to_end": {"images_per_s": fps / 2},
        },
    )
    return run_dir
