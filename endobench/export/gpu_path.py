"""The GPU fast path of eager PyTorch: channels-last, a CUDA graph per batch shape, and bf16 or
fp16 only where that model's masks agree with fp32's.

:func:`select_gpu_path` (called by :func:`endobench.export.fast_backend.select_fast_backend` for a
CUDA predictor with ``--backend auto``) compares the masks of each reduced precision with eager
fp32's on the calibration sample (per-image Dice >= 0.99, after the model's own restore and
post-processing), times fp32 and every precision that agrees with the fast path at batch 1, and
keeps the fastest. A precision asked for explicitly is kept as it is (the fast path still applies).
The predictor's :attr:`~endobench.predictor.Predictor.inference_path` then names what runs, and
``run`` records it with every FPS figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from endobench.export.selection import (
    CALIBRATION_IMAGES,
    MIN_DICE,
    TIMED_PASSES,
    BackendSelection,
    calibration_images,
)

#: Reduced precisions tried against fp32.
REDUCED = ("bf16", "fp16")


def select_gpu_path(
    predictor, *, min_dice: float = MIN_DICE, images: int = CALIBRATION_IMAGES
) -> BackendSelection:
    """Put ``predictor`` (eager PyTorch) on the GPU fast path at the fastest agreeing precision."""
    if predictor.precision != "fp32":
        predictor.use_gpu_fast_path()
        reason = f"{predictor.inference_path}: precision {predictor.precision}, as asked"
        return BackendSelection(predictor, "torch", reason)
    import torch

    torch.backends.cudnn.benchmark = True  # fixed shapes: cuDNN times its kernels once
    _, pictures = calibration_images(images)
    reference = predictor.predict_masks(pictures)
    agreement = {p: _agreement(predictor, p, pictures, reference) for p in REDUCED}
    candidates = ["fp32"] + [p for p in REDUCED if agreement[p].get("min_dice", -1) >= min_dice]
    x = predictor.preprocess(pictures[0])[None]
    times = {}
    for precision in candidates:
        predictor.use_gpu_fast_path(precision=precision)
        times[precision] = _median_ms(predictor, x)
    chosen, why = choose_precision(agreement, times, min_dice)
    predictor.use_gpu_fast_path(precision=chosen)
    check = {"images": len(pictures), "agreement": agreement, "times_ms": times}
    reason = f"{predictor.inference_path}: {why}"
    return BackendSelection(
        predictor, "torch", reason, None, check | {"min_dice_required": min_dice}
    )


def _agreement(predictor, precision: str, pictures, reference) -> dict[str, Any]:
    """Per-image Dice of ``precision``'s masks against fp32's (or why it cannot run here)."""
    from endobench.backends import precision_unsupported
    from endobench.metrics import mask_dice

    reason = precision_unsupported(precision, predictor.device)
    if reason:
        return {"status": "skipped", "reason": reason}
    predictor.use_gpu_fast_path(precision=precision, cuda_graphs=False)
    try:
        masks = predictor.predict_masks(pictures)
    finally:
        predictor.use_gpu_fast_path(precision="fp32", cuda_graphs=False)
    dices = [
        mask_dice(np.asarray(a, bool), np.asarray(b, bool))
        for a, b in zip(masks, reference, strict=True)
    ]
    return {"status": "ok", "min_dice": float(min(dices)), "mean_dice": float(np.mean(dices))}


def choose_precision(
    agreement: dict[str, dict[str, Any]], times: dict[str, float], min_dice: float = MIN_DICE
) -> tuple[str, str]:
    """The fastest timed precision (fp32 and those whose masks agree), and why, in one sentence.

    Args:
        agreement: Per reduced precision: ``min_dice`` against fp32, or ``status`` skipped with a
            ``reason``.
        times: Median batch-1 milliseconds of each precision timed (fp32 always).
        min_dice: Smallest per-image Dice a reduced precision needs.
    """
    chosen = min(times, key=times.get)
    notes = []
    for precision, row in agreement.items():
        if row.get("status") == "skipped":
            notes.append(f"{precision} skipped ({row['reason']})")
        elif row["min_dice"] < min_dice:
            notes.append(
                f"{precision} masks differ (min Dice {row['min_dice']:.4f} < {min_dice:g})"
            )
        else:
            notes.append(
                f"{precision} masks agree (min Dice {row['min_dice']:.4f}), "
                f"{times[precision]:.2f} ms"
            )
    head = f"{chosen} is the fastest agreeing precision ({times[chosen]:.2f} ms at batch 1"
    head += f"; fp32 {times['fp32']:.2f} ms)" if chosen != "fp32" else ")"
    return chosen, head + ": " + "; ".join(notes)


def _median_ms(predictor, x) -> float:
    from endobench.runner.timing import ForwardTimer

    timer = ForwardTimer(predictor.device)
    for _ in range(3):
        predictor.forward_batch(x)  # the graph is captured, kernels chosen
    return float(
        np.median([timer(lambda: predictor.forward_batch(x))[1] for _ in range(TIMED_PASSES)])
    )
