"""Speed as the literature reports it, measured so that every figure says what it measured.

Three figures, each stored with its conditions (input size, dtype, device, threads):

* **FPS** (the number papers print): the model's forward pass only, batch 1, after warm-up
  passes, synchronised (CUDA events on a GPU, ``time.perf_counter`` on a CPU, whose kernels return
  when done), reported as ``1000 / median`` milliseconds over the timed images, with the 90th
  percentile beside it. Preprocessing, the copy to the device, restoring to the original size,
  binarising and writing are outside the timed region.
  With ``--batch-size 1`` every image's own forward pass is timed, so FPS covers all images. With a
  larger batch, running every image a second time at batch 1 would double the cost, so a fixed,
  evenly spaced subset of images (``fps_images``, default 100) is additionally run at batch 1; the
  record states which (``scope``).
* **Batched throughput**: images per second of the synchronised forward passes at the run's batch
  size, summed over all batches after an untimed warm-up batch.
* **End-to-end**: images per second of the whole loop, reading, decoding, preprocessing,
  inference, restoring and writing included, as a user waits for it (scoring, warm-up and the
  extra batch-1 passes of the timed subset excluded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from endobench.runner.conditions import load_average, machine_conditions, stability, thread_split
from endobench.wording import counted

FPS_DEFINITION = (
    "model forward pass only (with the sigmoid of its prediction), batch 1, after {warmup} warm-up passes, synchronised ({clock}); "
    "fps = 1000 / median ms over {scope}"
)


class ForwardTimer:
    """Times a callable on a device, synchronising so that the time covers the finished work."""

    def __init__(self, device: Any):
        import torch

        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.clock = "CUDA events" if self.cuda else "time.perf_counter"
        if self.device.type == "mps":
            self.clock = "time.perf_counter with torch.mps.synchronize"

    def _sync(self) -> None:
        import torch

        if self.cuda:
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def __call__(self, fn: Callable[[], Any]) -> tuple[Any, float]:
        """Run ``fn()`` and return ``(its result, elapsed milliseconds)``."""
        import torch

        self._sync()
        if self.cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            result = fn()
            end.record()
            end.synchronize()
            return result, float(start.elapsed_time(end))
        begin = time.perf_counter()
        result = fn()
        self._sync()
        return result, (time.perf_counter() - begin) * 1000.0


def latency_stats(millis: Sequence[float]) -> dict[str, float | int]:
    """Summarise per-image forward times: count, median, p90, mean, min (ms) and FPS at the median."""
    values = np.asarray([m for m in millis if m is not None], dtype=np.float64)
    if values.size == 0:
        return {"images_timed": 0}
    median = float(np.median(values))
    p90 = float(np.percentile(values, 90))
    return {
        "images_timed": int(values.size),
        "median_ms": median,
        "p90_ms": p90,
        "mean_ms": float(values.mean()),
        "min_ms": float(values.min()),
        "fps": 1000.0 / median if median > 0 else float("inf"),
        "fps_at_p90": 1000.0 / p90 if p90 > 0 else float("inf"),
    }


@dataclass
class TimingLog:
    """Collects the timings of one run while it goes.

    Attributes:
        batch1_ms: Batch-1 forward time per image name (all images, or the timed subset).
        per_image_ms: Forward time per image name as the toolkit's time file lists it: the image's
            own batch-1 time, or its batch's time divided by the batch size.
        batch_ms: ``(images in the batch, ms)`` of every timed batched forward pass.
        images: Images processed in this session.
        excluded_s: Seconds inside the loop that are not part of the end-to-end figure: warm-up
            passes and the extra batch-1 passes of the timed subset.
        started: ``time.perf_counter()`` at the start of the loop.
        finished: ``time.perf_counter()`` at its end.
        load_start: 1, 5 and 15-minute load averages at the start (None where unknown).
        load_end: The same at the end.
    """

    batch1_ms: dict[str, float] = field(default_factory=dict)
    per_image_ms: dict[str, float] = field(default_factory=dict)
    batch_ms: list[tuple[int, float]] = field(default_factory=list)
    images: int = 0
    excluded_s: float = 0.0
    started: float | None = None
    finished: float | None = None
    load_start: list[float] | None = None
    load_end: list[float] | None = None

    def start(self) -> None:
        """Mark the start of the end-to-end measurement (and note the machine's load)."""
        self.load_start = load_average()
        self.started = time.perf_counter()

    def stop(self) -> None:
        """Mark its end (and note the load again)."""
        self.finished = time.perf_counter()
        self.load_end = load_average()

    def throughput(self) -> float | None:
        """Batched images per second over the timed batches, or None when none was timed."""
        total = sum(ms for _, ms in self.batch_ms)
        count = sum(n for n, _ in self.batch_ms)
        return count / (total / 1000.0) if total > 0 else None

    def end_to_end(self) -> float | None:
        """Images per second of the whole loop in this session, or None before it ran."""
        if self.started is None or self.finished is None or self.images == 0:
            return None
        elapsed = self.finished - self.started - self.excluded_s
        return self.images / elapsed if elapsed > 0 else None


def timing_record(
    log: TimingLog,
    *,
    conditions: dict[str, Any],
    batch_size: int,
    warmup: int,
    clock: str,
    scope: str,
) -> dict[str, Any]:
    """Build ``timing.json``: the three figures, their definitions, conditions and stability.

    The conditions gain the machine's load averages and the process's CPU affinity, and the
    record says whether the figures are unstable and why (see :mod:`endobench.runner.conditions`).

    Args:
        log: What the run measured.
        conditions: Input size, dtype, backend, precision, device, device name, threads, workers.
        batch_size: The run's batch size.
        warmup: Warm-up passes before timing.
        clock: How time was taken (see :class:`ForwardTimer`).
        scope: Which images the batch-1 figure covers.
    """
    fps = latency_stats(list(log.batch1_ms.values()))
    fps["definition"] = FPS_DEFINITION.format(warmup=warmup, clock=clock, scope=scope)
    fps["scope"] = scope
    conditions = dict(conditions) | machine_conditions(log.load_start, log.load_end)
    conditions["thread_split"] = thread_split(
        conditions.get("threads"),
        conditions.get("num_workers"),
        conditions["usable_cores"],
        conditions.get("writers"),
    )
    verdict = stability(fps, conditions, str(conditions.get("device", "cpu")))
    elapsed = (
        log.finished - log.started - log.excluded_s
        if log.started is not None and log.finished is not None
        else None
    )
    return {
        "unstable": verdict["unstable"],
        "unstable_reasons": verdict["reasons"],
        "stability_rules": verdict["rules"],
        "conditions": conditions,
        "fps": fps,
        "throughput": {
            "batch_size": batch_size,
            "images_per_s": log.throughput(),
            "batches_timed": len(log.batch_ms),
            "definition": "images / synchronised forward time summed over all batches, after a "
            "warm-up batch",
        },
        "end_to_end": {
            "images_per_s": log.end_to_end(),
            "images": log.images,
            "seconds": elapsed,
            "definition": "images / wall time of reading, preprocessing, inference, restoring and "
            "writing in this session (scoring, warm-up and the extra batch-1 timing passes excluded)",
        },
    }


def describe_fps(timing: dict[str, Any]) -> str:
    """One line stating an FPS figure with its conditions, e.g. for tables and logs."""
    fps = timing.get("fps", {})
    cond = timing.get("conditions", {})
    if not fps.get("images_timed"):
        return "FPS: not measured"
    return (
        f"{fps['fps']:.1f} FPS (median {fps['median_ms']:.2f} ms, p90 {fps['p90_ms']:.2f} ms, "
        f"{counted(fps['images_timed'], 'image')}) at {cond.get('input_size')} px, "
        f"{cond.get('dtype')}, {cond.get('device_name') or cond.get('device')}, "
        f"{counted(cond.get('threads'), 'thread')}, batch 1"
        + _path_text(cond)
        + (" [UNSTABLE]" if timing.get("unstable") else "")
    )


def _path_text(cond: dict[str, Any]) -> str:
    """Which inference path the FPS timed (older records: the backend and precision)."""
    if cond.get("inference_path"):
        return f", {cond['inference_path']}"
    return f", {cond['backend']} {cond.get('precision')}" if cond.get("backend") else ""


def describe_stability(timing: dict[str, Any]) -> str | None:
    """A warning line when a timing is unstable (None when it is not), naming the reasons."""
    if not timing.get("unstable"):
        return None
    reasons = "; ".join(timing.get("unstable_reasons") or ["reasons not recorded"])
    return (
        f"warning: unstable timing ({reasons}); other work was competing for the cores, so the "
        "leaderboard will not rank it: run again on an idle machine, or with fewer --threads"
    )
