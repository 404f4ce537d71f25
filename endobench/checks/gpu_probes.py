"""The three probes of ``make gpu-check``: forward speed per cell, an AMP training smoke run, and
device masks against CPU masks.

Each probe returns a JSON-ready dictionary with a ``status`` (``ok``, ``skipped`` with a
``reason``, or ``failed`` with the error in one line); none raises for what the device cannot do.
Times are taken by :class:`endobench.runner.timing.ForwardTimer`: CUDA events on a GPU,
``time.perf_counter`` on a CPU (whose kernels return when done), behind one interface.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from endobench.backends import precision_unsupported
from endobench.backends.cuda_graphs import capture_cuda_graph
from endobench.predictor import resolve_dtype
from endobench.runner.timing import ForwardTimer

#: The figure each speed variant measures; the fastest one that ran is the cell's figure.
VARIANTS = ("eager", "channels_last", "cuda_graph")
#: GPU masks must agree with CPU masks at least this well on every image.
AGREEMENT_DICE = 0.99


def _autocast(device: torch.device, precision: str):
    dtype = resolve_dtype(precision)
    enabled = dtype != torch.float32
    # Autocast's weight cache must be off while a CUDA graph is captured.
    return torch.autocast(device.type, dtype, enabled=enabled, cache_enabled=False)


def _forward(model: torch.nn.Module, x: torch.Tensor, precision: str) -> Callable[[], Any]:
    """The timed pass, as ``endobench run`` times it: the prediction's sigmoid in float32."""

    def run() -> torch.Tensor:
        with torch.inference_mode(), _autocast(x.device, precision):
            return torch.sigmoid(model(x)[-1].float())

    return run


def _time(timer: ForwardTimer, fn: Callable[[], Any], warmup: int, iterations: int) -> list[float]:
    for _ in range(warmup):
        fn()
    return [timer(fn)[1] for _ in range(iterations)]


def speed_cell(
    model: torch.nn.Module,
    size: int,
    precision: str,
    batch: int,
    *,
    warmup: int,
    iterations: int,
) -> dict[str, Any]:
    """Time one model at one size, precision and batch: eager, channels-last and a CUDA graph.

    The model is left in channels-last memory when that variant ran. A variant that fails is
    recorded with its error and the others stand.
    """
    device = next(model.parameters()).device
    cell: dict[str, Any] = {"size": size, "precision": precision, "batch": batch}
    reason = precision_unsupported(precision, device)
    if reason:
        return cell | {"status": "skipped", "reason": reason}
    timer = ForwardTimer(device)
    x = torch.randn(batch, 3, size, size, device=device)
    variants: dict[str, Any] = {}
    runs: dict[str, list[float]] = {}
    for name in VARIANTS:
        if name == "cuda_graph" and device.type != "cuda":
            variants[name] = "not available on the CPU"
            continue
        layout = torch.contiguous_format if name == "eager" else torch.channels_last
        try:
            model.to(memory_format=layout)
            fn = _forward(model, x.contiguous(memory_format=layout), precision)
            if name == "cuda_graph":
                fn = capture_cuda_graph(fn, warmup)
            runs[name] = _time(timer, fn, warmup, iterations)
            variants[name] = float(np.median(runs[name]))
        except Exception as err:  # a variant that cannot run here is recorded, not fatal
            variants[name] = f"failed: {one_line(err)}"
    if not runs:
        return cell | {"status": "failed", "reason": "no variant ran", "variants_ms": variants}
    best = min(runs, key=lambda name: float(np.median(runs[name])))
    median = float(np.median(runs[best]))
    return cell | {
        "status": "ok",
        "method": best,
        "channels_last": best != "eager",
        "cuda_graph": best == "cuda_graph",
        "median_ms": median,
        "p90_ms": float(np.percentile(runs[best], 90)),
        "min_ms": float(np.min(runs[best])),
        "images_per_s": 1000.0 * batch / median if median > 0 else None,
        "iterations": iterations,
        "variants_ms": variants,
    }


def training_smoke(
    device: torch.device, steps: int, size: int, batch: int, model: str = "brp_lite"
) -> dict[str, Any]:
    """Train ``model`` for ``steps`` optimiser steps with AMP (bfloat16 autocast) on the sample.

    On a device without bfloat16 (a CPU without its instructions) the run is float32 and ``amp``
    says why.

    endobench's own training (:func:`endobench.train.loop.train`) runs on the bundled sample's
    ClinicDB pairs (8 for training, 2 for validation; ``batch`` <= 8), from the shipped weights
    when there are any: ``batch`` pairs (one batch) per epoch, one scale, so that each epoch is one
    step and ``steps`` epochs are ``steps`` steps. The steps are counted by an optimiser hook, not
    assumed.
    """
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from endobench.models.checkpoint import default_weights_path
    from endobench.train.loop import train
    from endobench.train.options import TrainConfig
    from endobench.train.recipe import Recipe

    counted = [0]
    hook = register_optimizer_step_post_hook(lambda *_: counted.__setitem__(0, counted[0] + 1))
    weights = default_weights_path(model)
    began = time.perf_counter()
    on_gpu = device.type == "cuda"
    no_amp = precision_unsupported("bf16", device)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    try:
        with tempfile.TemporaryDirectory() as out:
            result = train(
                TrainConfig(
                    model=model,
                    data=["sample/clinicdb"],
                    out=Path(out),
                    val_fraction=0.2,
                    recipe=Recipe(size=size, batch_size=batch, epochs=steps, scales=(1.0,)),
                    device=str(device),
                    amp=no_amp is None,
                    workers=0,
                    limit=batch,
                    model_kwargs={"pretrained_backbone": False},
                    init=weights if weights is not None and weights.is_file() else None,
                    progress=False,
                    checkpoint_minutes=0,
                )
            )
    finally:
        hook.remove()
    losses = [row.get("train_loss") for row in result.runs[0].history]
    finite = all(v is not None and np.isfinite(v) for v in losses)
    return {
        "status": "ok" if finite and counted[0] == steps else "failed",
        "model": model,
        "amp": "bfloat16 autocast" if no_amp is None else f"none: {no_amp}",
        "size": size,
        "batch": batch,
        "steps": counted[0],
        "steps_asked": steps,
        "init": "shipped weights" if weights is not None and weights.is_file() else "random",
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "losses_finite": finite,
        "best_val_dice": result.runs[0].best_val_dice,
        "seconds": time.perf_counter() - began,
        "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None,
    }


def mask_agreement(
    device: torch.device, precisions: tuple[str, ...], images: int | None, model: str = "brp_lite"
) -> dict[str, Any]:
    """Dice between the device's masks and CPU float32 masks of the bundled sample, shipped weights.

    Float32 on the device must reach Dice >= :data:`AGREEMENT_DICE` on every image; the reduced
    precisions are reported beside it.
    """
    from endobench.data.sample import sample_dataset
    from endobench.metrics import mask_dice
    from endobench.predictor import Predictor

    samples = [s for name in ("kvasir", "clinicdb") for s in sample_dataset(name).samples]
    pictures = [s.read()[0] for s in samples[:images]]
    reference = Predictor(model, device="cpu", optimise=False, batch_size=1)
    truth = reference.predict_masks(pictures)
    rows: dict[str, Any] = {}
    for precision in precisions:
        reason = precision_unsupported(precision, device)
        if reason:
            rows[precision] = {"status": "skipped", "reason": reason}
            continue
        try:
            predictor = Predictor(model, device=device, dtype=precision, batch_size=4)
            masks = predictor.predict_masks(pictures)
        except Exception as err:  # recorded: the check goes on with the other precisions
            rows[precision] = {"status": "failed", "reason": one_line(err)}
            continue
        dices = [mask_dice(a, b) for a, b in zip(masks, truth, strict=True)]
        rows[precision] = {
            "status": "ok",
            "min_dice": float(min(dices)),
            "mean_dice": float(np.mean(dices)),
            "passed": bool(min(dices) >= AGREEMENT_DICE),
        }
    fp32 = rows.get("fp32", {})
    return {
        "status": "ok" if fp32.get("passed") else "failed",
        "model": model,
        "weights_sha256": reference.weights_sha256,
        "input_size": reference.input_size,
        "images": len(pictures),
        "reference": "CPU, float32",
        "threshold": AGREEMENT_DICE,
        "rule": "every image's Dice between the device's fp32 mask and the CPU's >= threshold",
        "by_precision": rows,
        "passed": bool(fp32.get("passed")),
    }


def one_line(err: BaseException) -> str:
    """An error as one short line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}".rstrip(": ")
