"""The workloads of ``make gpu-check`` (schema 2): ``run`` end to end on real frames, training
throughput, and the issue's targets measured against them.

* :func:`run_workload`: ``endobench run`` (the library's :func:`endobench.runner.run_benchmark`,
  as the command runs it, scoring off) over the packed sample's frames
  (:mod:`endobench.checks.gpu_sample`); its ``timing.json`` figures: batch-1 forward FPS, batched
  forward rate, end to end, and which inference path was timed.
* :func:`train_workload`: the library's :func:`endobench.train.train` for a few epochs on the
  sample's pairs (bfloat16 autocast where the device has it); images per second of each epoch's
  training part, the first epoch (warm-up, caching) apart from the rest.
* :func:`targets`: the issue's rules, each ``{rule, figure, met, limit}``.

Nothing here imports the scoring libraries (medpy, pysodmetrics): the GPU machine lacks them.
Each workload returns a JSON-ready dictionary with a ``status``; none raises for what the device
cannot do.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

#: End to end must keep at least this share of the batched forward rate.
END_TO_END_SHARE = 0.85


def run_workload(
    sample: str | Path,
    device: str,
    model: str,
    size: int,
    batch: int,
    *,
    random_weights: bool = False,
    workers: int = 2,
    backend: str = "auto",
) -> dict[str, Any]:
    """``endobench run`` of ``model`` over the sample's ``images/`` (no scoring); its figures."""
    from endobench.export.fast_backend import select_fast_backend
    from endobench.runner import RunConfig, run_benchmark

    began = time.perf_counter()
    images = Path(sample) / "images"
    with tempfile.TemporaryDirectory(prefix="endobench-gpu-run-") as out:
        result = run_benchmark(
            RunConfig(
                model=model,
                images=[str(images)],
                size=size,
                batch_size=batch,
                device=device,
                backend=backend,
                out=out,
                name=f"{model}-{size}-b{batch}",
                random_weights=random_weights,
                num_workers=workers,
                score=False,
                progress=False,
                warmup=5,
                fps_images=100,
            ),
            select_fast_backend,
        )
        timing = result.timing or {}
        info = _read_json(result.run_dir / "run.json")
    fps = timing.get("fps", {})
    forward = (timing.get("throughput") or {}).get("images_per_s")
    end_to_end = (timing.get("end_to_end") or {}).get("images_per_s")
    if batch == 1 or forward is None:
        forward = fps.get("fps")
    share = end_to_end / forward if end_to_end and forward else None
    conditions = timing.get("conditions", {})
    return {
        "status": "ok",
        "model": model,
        "size": size,
        "batch": batch,
        "weights": "random" if random_weights else "shipped",
        "images": (timing.get("end_to_end") or {}).get("images"),
        "backend": conditions.get("backend"),
        "precision": conditions.get("precision"),
        "inference_path": conditions.get("inference_path"),
        "backend_reason": (info.get("backend_choice") or {}).get("reason"),
        "workers": conditions.get("num_workers"),
        "fps_batch1": fps.get("fps"),
        "fps_batch1_median_ms": fps.get("median_ms"),
        "forward_images_per_s": forward,
        "end_to_end_images_per_s": end_to_end,
        "end_to_end_share_of_forward": share,
        "seconds": time.perf_counter() - began,
    }


def train_workload(
    sample: str | Path,
    device: str,
    model: str,
    size: int,
    batch: int,
    *,
    epochs: int,
    limit: int | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Train ``model`` on the sample's pairs for ``epochs`` epochs (the recipe's scales, random
    initialisation); images per second of each epoch's training part."""
    import torch

    from endobench.backends import precision_unsupported
    from endobench.devices import resolve_device
    from endobench.train import TrainConfig, recipe_for, train

    began = time.perf_counter()
    target = resolve_device(device)
    no_amp = precision_unsupported("bf16", target)
    if target.type == "cuda":
        torch.cuda.reset_peak_memory_stats(target)
    recipe = recipe_for(model).replace(size=size, batch_size=batch, epochs=epochs)
    with tempfile.TemporaryDirectory(prefix="endobench-gpu-train-") as out:
        result = train(
            TrainConfig(
                model=model,
                data=[str(sample)],
                out=Path(out),
                val_fraction=0.05,
                recipe=recipe,
                device=str(target),
                amp=no_amp is None,
                workers=workers,
                limit=limit,
                model_kwargs={"pretrained_backbone": False},
                progress=False,
                checkpoint_minutes=0,
            )
        )
    rates = [row.get("images_per_s") for row in result.runs[0].history]
    later = [r for r in rates[1:] if r is not None]
    return {
        "status": "ok" if rates and all(r is not None for r in rates) else "failed",
        "model": model,
        "size": size,
        "batch": batch,
        "scales": list(recipe.scales),
        "amp": "bfloat16 autocast" if no_amp is None else f"none: {no_amp}",
        "epochs": len(rates),
        "train_images_per_epoch": _train_count(result),
        "images_per_s_by_epoch": rates,
        "first_epoch_images_per_s": rates[0] if rates else None,
        "images_per_s": max(later) if later else (rates[0] if rates else None),
        "definition": "training images / the epoch's training seconds (validation excluded), "
        "best epoch after the first",
        "peak_memory_mb": torch.cuda.max_memory_allocated(target) / 2**20
        if target.type == "cuda"
        else None,
        "seconds": time.perf_counter() - began,
    }


def _train_count(result) -> int | None:
    row = result.runs[0].history[-1]
    seconds, rate = row.get("train_seconds"), row.get("images_per_s")
    return round(seconds * rate) if seconds and rate else None


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in rows
            if r.get("status") == "ok" and all(r.get(k) == v for k, v in match.items())
        ),
        None,
    )


def _target(rule: str, figure: float | None, goal: float, limit: str | None) -> dict[str, Any]:
    met = None if figure is None else bool(figure >= goal)
    return {"rule": rule, "figure": figure, "met": met, "limit": None if met else limit}


def targets(runs: list[dict[str, Any]], training: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 20's targets against the measured workloads; ``figure`` None where not measured.

    ``limit`` says, for a target missed (or not measured), what the record shows limits it.
    """
    post = _find(runs, model="brp_post", size=512, batch=1)
    lite = _find(runs, model="brp_lite_post", size=352, batch=16)
    lite_train = _find(training, model="brp_lite", size=352)
    brp_train = _find(training, model="brp", size=512)

    def path(row):
        return f"timed path: {row.get('inference_path') or row.get('backend')}" if row else None

    share = lite.get("end_to_end_share_of_forward") if lite else None
    return [
        _target(
            "run brp_post at 512 px, batch 1: >= 300 frames/s forward",
            post and post.get("fps_batch1"),
            300.0,
            path(post) or "not measured (no --sample, or the run failed)",
        ),
        _target(
            "run brp_lite_post at 352 px, batch 16, end to end: >= 1000 images/s on Kvasir-size JPEGs",
            lite and lite.get("end_to_end_images_per_s"),
            1000.0,
            (
                f"decoding and writing: end to end is {share:.2f} of the forward rate "
                f"({lite.get('workers')} decoding workers); {path(lite)}"
                if share is not None
                else "not measured (no --sample, or the run failed)"
            ),
        ),
        _target(
            f"run brp_lite_post end to end: >= {END_TO_END_SHARE} of its forward rate",
            share,
            END_TO_END_SHARE,
            (
                f"decoding (JPEG on {lite.get('workers')} CPU workers) and mask writing"
                if lite
                else "not measured"
            ),
        ),
        _target(
            "train brp_lite at 352 px: >= 1500 images/s",
            lite_train and lite_train.get("images_per_s"),
            1500.0,
            "the data pipeline (decoding, resizing and augmenting on the CPU) and multi-scale steps",
        ),
        _target(
            "train brp at 512 px: >= 400 images/s",
            brp_train and brp_train.get("images_per_s"),
            400.0,
            "the data pipeline (decoding, resizing and augmenting on the CPU) and multi-scale steps",
        ),
    ]
