"""The CPU fast path: the fastest backend verified to give eager PyTorch's fp32 masks.

:func:`select_fast_backend` takes an eager PyTorch :class:`~endobench.predictor.Predictor` and
returns the predictor to run instead, with the reason. On a CPU, for one model with known weights
at fp32, it exports the model to ONNX (:func:`endobench.export.onnx.export_predictor`, the same
trace and check as ``endobench export``), runs both on a calibration sample (the bundled real
images), and takes ONNX Runtime when

* every calibration image's mask agrees with eager PyTorch's: Dice >= ``min_dice`` (0.99), after
  the model's own restore and post-processing, and
* its batch-1 forward pass is faster than eager PyTorch's.

The export and its verdict are cached (:mod:`endobench.export.cache`: per weights sha256, model,
input side and ONNX Runtime version), so the export and the comparison happen once; later calls
read the verdict, which keeps the choice the same from run to run (a resumed run included).
On a GPU it is :func:`endobench.export.gpu_path.select_gpu_path` (channels-last, CUDA graphs, a
reduced precision only where its masks agree). Everything else (bf16 on a CPU, an ensemble on a
CPU, random weights on a CPU) stays with the predictor it was given, and the reason says why.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from endobench.errors import ConfigError
from endobench.export.selection import (
    CALIBRATION_IMAGES,
    MIN_DICE,
    TIMED_PASSES,
    BackendSelection,
    calibration_images,
)

#: Format of the cached verdict; a different one is rebuilt.
VERDICT_FORMAT = 1


def select_fast_backend(
    predictor,
    *,
    requested: str = "auto",
    cache_dir: str | Path | None = None,
    min_dice: float = MIN_DICE,
    images: int = CALIBRATION_IMAGES,
    progress: bool = False,
) -> BackendSelection:
    """Return the fastest verified backend for ``predictor`` (see the module's docstring).

    Args:
        predictor: A built predictor (eager PyTorch for the fast path to apply).
        requested: The backend the user asked for: only ``auto`` may change it.
        cache_dir: The cache folder (default: :func:`endobench.export.cache.cache_root`).
        min_dice: Smallest per-image Dice between the two backends' masks.
        images: How many calibration images.
        progress: Say on stderr while the one-time export and comparison run.

    Returns:
        The selection; its ``predictor`` is ``predictor`` itself unless ONNX Runtime won.
    """
    if predictor.device.type == "cuda" and requested == "auto" and predictor.backend == "torch":
        from endobench.export.gpu_path import select_gpu_path

        return select_gpu_path(predictor, min_dice=min_dice, images=images)
    kept = _why_eager(predictor, requested)
    if kept is not None:
        return BackendSelection(predictor, predictor.backend, kept)
    import onnxruntime

    from endobench.export.cache import export_key, export_paths
    from endobench.export.onnx import OPSET

    key = export_key(
        predictor.weights_sha256,
        predictor.model_name,
        predictor.input_size,
        onnxruntime.__version__,
        OPSET,
    )
    onnx_path, record_path = export_paths(key, Path(cache_dir) if cache_dir else None)
    verdict, fast = _cached_verdict(record_path, onnx_path, key), None
    cached = verdict is not None
    if verdict is None:
        verdict, fast = _status(progress, predictor.model_name, onnx_path.parent)(
            lambda: _verify(predictor, key, onnx_path, record_path, min_dice, images)
        )
    if verdict["backend"] != "onnxruntime":
        check = verdict.get("check")
        return BackendSelection(predictor, "torch", verdict["reason"], None, check, cached)
    fast = fast or _open(predictor, onnx_path)
    return BackendSelection(
        fast, "onnxruntime", verdict["reason"], str(onnx_path), verdict["check"], cached
    )


def _why_eager(predictor, requested: str) -> str | None:
    """Why ``predictor`` runs as it is (None when the fast path may replace it)."""
    if predictor.backend == "onnxruntime":
        return "the weights are an exported .onnx file: ONNX Runtime runs it"
    if requested == "torch":
        return "--backend torch: eager PyTorch, as asked"
    if predictor.device.type != "cpu":
        return f"eager PyTorch on {predictor.device.type}: the verified ONNX export is a CPU path"
    if predictor.precision != "fp32":
        return f"precision {predictor.precision} asked: the verified ONNX export is fp32"
    try:
        _ = predictor.module
    except ConfigError:
        return "a fold ensemble: the ONNX export takes one model"
    if not isinstance(predictor.weights_sha256, str):
        return "random weights: no weights sha256 to key a cached export by"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed: eager PyTorch"
    return None


def _cached_verdict(record_path: Path, onnx_path: Path, key: dict[str, Any]) -> dict | None:
    """The verdict recorded for ``key``, when its export (if it chose one) is still intact."""
    import json

    from endobench.io import sha256_file

    try:
        verdict = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if verdict.get("format") != VERDICT_FORMAT or verdict.get("key") != key:
        return None
    if verdict.get("backend") == "onnxruntime":
        if not onnx_path.is_file() or sha256_file(onnx_path) != verdict.get("onnx_sha256"):
            return None
    return verdict


def _verify(
    predictor, key: dict, onnx_path: Path, record_path: Path, min_dice: float, images: int
) -> tuple[dict[str, Any], Any]:
    """Export, compare masks and speed on the calibration sample, and cache the verdict.

    Returns:
        The verdict and the ONNX Runtime predictor it measured (None when the export was
        refused), so the run goes on with the session already open.
    """
    from endobench.export.onnx import ExportCheckError, export_predictor
    from endobench.io import sha256_file, write_json_atomic

    verdict: dict[str, Any] = {"format": VERDICT_FORMAT, "key": key, "backend": "torch"}
    try:
        export_predictor(predictor, onnx_path)
    except ExportCheckError as err:
        verdict["reason"] = f"eager PyTorch: its ONNX export was refused ({err})"
        write_json_atomic(record_path, verdict)
        return verdict, None
    fast = _open(predictor, onnx_path)
    check = compare_backends(predictor, fast, images) | {"min_dice_required": min_dice}
    verdict |= {"check": check, "onnx_sha256": sha256_file(onnx_path)}
    agreed = check["min_dice"] >= min_dice
    faster = check["onnxruntime_ms"] < check["torch_ms"]
    verdict["backend"] = "onnxruntime" if agreed and faster else "torch"
    verdict["reason"] = _reason(check, agreed, faster)
    write_json_atomic(record_path, verdict)
    return verdict, fast


def compare_backends(eager, fast, images: int = CALIBRATION_IMAGES) -> dict[str, Any]:
    """Per-image mask Dice and median batch-1 forward times of two predictors on the sample.

    Args:
        eager: The reference predictor (eager PyTorch, fp32).
        fast: The candidate.
        images: How many of the bundled sample's real images (evenly spaced).
    """
    from endobench.env import cpu_name
    from endobench.metrics import mask_dice

    ids, pictures = calibration_images(images)
    dices = [
        mask_dice(np.asarray(a, bool), np.asarray(b, bool))
        for a, b in zip(fast.predict_masks(pictures), eager.predict_masks(pictures), strict=True)
    ]
    x = eager.preprocess(pictures[0])[None]
    return {
        "images": ids,
        "min_dice": float(min(dices)),
        "mean_dice": float(np.mean(dices)),
        "torch_ms": _median_ms(eager.forward_batch, x),
        "onnxruntime_ms": _median_ms(fast.forward_batch, x),
        "input_size": eager.input_size,
        "cpu": cpu_name(),
        "threads": _threads(),
        "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _reason(check: dict[str, Any], agreed: bool, faster: bool) -> str:
    masks = (
        f"min per-image mask Dice {check['min_dice']:.4f} against eager fp32 on "
        f"{len(check['images'])} calibration images (>= {check['min_dice_required']:g} required)"
    )
    speed = (
        f"{check['onnxruntime_ms']:.1f} ms against eager {check['torch_ms']:.1f} ms per "
        f"batch-1 forward pass ({check['threads']} threads)"
    )
    if not agreed:
        return f"eager PyTorch: the ONNX export's masks differ: {masks}"
    if not faster:
        return f"eager PyTorch: the verified ONNX export is not faster: {speed}"
    ratio = check["torch_ms"] / max(check["onnxruntime_ms"], 1e-9)
    return f"onnxruntime: same masks ({masks}) and {ratio:.1f}x faster: {speed}"


def _open(predictor, onnx_path: Path):
    """An ONNX Runtime predictor of the cached export, batched as ``predictor``."""
    from endobench.predictor import Predictor

    return Predictor(None, weights=onnx_path, device="cpu", batch_size=predictor.batch_size)


def _median_ms(forward, x) -> float:
    for _ in range(2):
        forward(x)  # kernels are chosen on the first calls
    times = []
    for _ in range(TIMED_PASSES):
        began = time.perf_counter()
        forward(x)
        times.append((time.perf_counter() - began) * 1000.0)
    return float(np.median(times))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _status(progress: bool, model: str, folder: Path):
    """Run a callable under a one-line spinner (stderr) when ``progress``."""

    def run(job):
        if not progress:
            return job()
        from rich.console import Console

        text = f"exporting {model} for the CPU fast path (once; cached in {folder})"
        with Console(stderr=True).status(text):
            return job()

    return run
