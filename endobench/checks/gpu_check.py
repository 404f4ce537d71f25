"""``make gpu-check``: one prepared script that says, in one JSON, what a GPU does with endobench.

``python -m endobench.checks.gpu_check`` (on a CUDA machine; under 8 minutes on one GPU) measures:

* **speed**: the forward pass of ``pranet``, ``brp`` and ``brp_lite`` (random weights: speed does
  not depend on them) at 352 and 512 px, in fp32, fp16 and bf16 (autocast, as ``run``), at batch 1
  and 16: eager, channels-last and a CUDA graph, the fastest kept and named
  (:func:`endobench.checks.gpu_probes.speed_cell`); CUDA events time each pass;
* **training**: a 50-step AMP (bfloat16 autocast) run of endobench's training on the bundled
  sample;
* **agreement**: the GPU's masks against the CPU's on the bundled sample with the shipped
  weights, Dice >= 0.99 on every image in fp32;
* **run** (schema 2, with ``--sample DIR``, the folder ``make gpu-sample`` packs): ``endobench
  run`` end to end on >= 500 real Kvasir and ClinicDB test frames, ``brp_post`` at 512 px batch 1
  and ``brp_lite_post`` at 352 px batch 16 (:mod:`endobench.checks.gpu_workloads`);
* **train throughput** (schema 2, with ``--sample``): the library's training of ``brp_lite`` at
  352 px and ``brp`` at 512 px, batch 16, for a few epochs;
* **targets**: issue 20's rules, each ``{rule, figure, met, limit}``.

It prints the JSON and writes it to ``docs/gpu-check.json`` (a GPU run only). Cells past the time
budget are skipped with that reason, so the script always ends in time. ``--device cpu --quick``
runs the same logic at tiny sizes with one or two iterations (``time.perf_counter`` instead of CUDA
events, fp16 skipped with its reason): the JSON schema is the same, and the tests check it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

SCHEMA = "endobench.gpu-check/2"
DOCS_JSON = Path("docs") / "gpu-check.json"


@dataclass(frozen=True)
class CheckPlan:
    """What one check measures, and within which time.

    Attributes:
        device: ``cuda`` (``cuda:N``) or ``cpu``.
        quick: Tiny sizes and few iterations (the logic, not the figures).
        models: Models timed (random weights).
        sizes: Input sides timed.
        precisions: Compute precisions timed (autocast for fp16 and bf16).
        batches: Batch sizes timed.
        warmup: Untimed passes before each timed variant.
        iterations: Timed passes per variant.
        budget_s: Seconds for the speed cells; the cells after it are skipped with that reason.
        train_steps: Optimiser steps of the AMP training smoke run.
        train_size: Its input side.
        train_batch: Its batch size.
        agreement_images: Bundled sample images compared (None: all 20).
        stream_frames: Frames of the synthetic 1080p video `endobench stream` runs on.
        sample: The packed sample folder (``make gpu-sample``); None skips the run and training
            throughput workloads, saying so.
        run_cases: ``(model, size, batch, random weights)`` of each ``run`` end to end.
        run_workers: DataLoader workers decoding for ``run``.
        run_backend: ``run``'s ``--backend``.
        throughput_cases: ``(model, size, batch)`` of each training throughput measurement.
        throughput_epochs: Epochs of each (the first one reported apart).
        throughput_limit: Training pairs per epoch (None: the whole sample).
        total_budget_s: Seconds after which the remaining workloads are skipped with that reason.
    """

    device: str = "cuda"
    quick: bool = False
    models: tuple[str, ...] = ("pranet", "brp", "brp_lite")
    sizes: tuple[int, ...] = (352, 512)
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")
    batches: tuple[int, ...] = (1, 16)
    warmup: int = 5
    iterations: int = 20
    budget_s: float = 200.0
    train_steps: int = 50
    train_size: int = 352
    train_batch: int = 8
    agreement_images: int | None = None
    stream_frames: int = 600
    sample: str | None = None
    run_cases: tuple[tuple[str, int, int, bool], ...] = (
        ("brp_post", 512, 1, True),
        ("brp_lite_post", 352, 16, False),
    )
    run_workers: int = 8
    run_backend: str = "auto"
    throughput_cases: tuple[tuple[str, int, int], ...] = (("brp_lite", 352, 16), ("brp", 512, 16))
    throughput_epochs: int = 3
    throughput_limit: int | None = None
    total_budget_s: float = 380.0


def plan_for(device: str = "cuda", quick: bool = False, sample: str | None = None) -> CheckPlan:
    """The full check on ``device``, or with ``quick`` the same cells at tiny sizes, few passes
    (and ``run`` over 2-image batches, 2 short training epochs, when a ``sample`` is given)."""
    plan = CheckPlan(device=device, quick=quick, sample=sample)
    if not quick:
        return plan
    return replace(
        plan,
        sizes=(32,),
        warmup=0,
        iterations=1,
        budget_s=600.0,
        train_steps=2,
        train_size=64,
        train_batch=2,
        agreement_images=2,
        stream_frames=4,
        run_cases=(("brp_post", 64, 1, True), ("brp_lite_post", 64, 2, False)),
        run_workers=0,
        run_backend="torch",
        # brp's 500 MB of checkpoints a CPU epoch writes would dominate; the logic is the same
        throughput_cases=(("brp_lite", 64, 2),),
        throughput_epochs=2,
        throughput_limit=4,
        total_budget_s=1200.0,
    )


def run_gpu_check(plan: CheckPlan, progress: bool = True) -> dict[str, Any]:
    """Run every probe of ``plan`` and return the check's JSON-ready record.

    Raises:
        ConfigError: The device is not available here (e.g. ``cuda`` without a GPU).
    """
    import torch

    from endobench.checks.gpu_probes import mask_agreement, training_smoke
    from endobench.checks.gpu_workloads import targets
    from endobench.devices import resolve_device
    from endobench.env import environment
    from endobench.runner.engine import device_name
    from endobench.runner.timing import ForwardTimer
    from endobench.stream.probe import stream_probe

    device = resolve_device(plan.device)
    _check_sample(plan.sample)
    began = time.perf_counter()
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda"  # fixed shapes: let cuDNN choose
    try:
        speed = speed_cells(plan, device, progress)
    finally:
        torch.backends.cudnn.benchmark = benchmark
    speed_s = time.perf_counter() - began
    runs, throughput = workloads(plan, device, began, progress)
    _note(progress, "training smoke run")
    training = _guarded(
        lambda: training_smoke(device, plan.train_steps, plan.train_size, plan.train_batch)
    )
    _note(progress, "GPU masks against CPU masks")
    agreement = _guarded(lambda: mask_agreement(device, plan.precisions, plan.agreement_images))
    _note(progress, "endobench stream on a synthetic 1080p video")
    stream = _guarded(lambda: stream_probe(str(device), plan.stream_frames))
    record = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": device.type,
        "device_name": device_name(device),
        "quick": plan.quick,
        "clock": ForwardTimer(device).clock,
        "plan": asdict(plan),
        "settings": {
            "cudnn_benchmark_for_speed": device.type == "cuda",
            "torch_compile": "not used: a CUDA graph removes batch 1's launch overhead without "
            "minutes of compilation per cell",
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "torch_threads": torch.get_num_threads(),
        },
        "environment": environment(include_torch=True),
        "speed": speed,
        "speed_seconds": speed_s,
        "target": _target(speed),
        "training": training,
        "agreement": agreement,
        "stream": stream,
        "run": runs,
        "train_throughput": throughput,
        "targets": targets(runs, throughput),
    }
    record["seconds"] = time.perf_counter() - began
    record["passed"] = _passed(record)
    return record


def speed_cells(plan: CheckPlan, device, progress: bool = False) -> list[dict[str, Any]]:
    """Every (model, size, precision, batch) cell of the plan, in that order; none is left out
    (a cell past ``plan.budget_s`` is skipped with that reason)."""
    from endobench.runner.live import make_progress

    cells: list[dict[str, Any]] = []
    began = time.perf_counter()
    total = len(plan.models) * len(plan.sizes) * len(plan.precisions) * len(plan.batches)
    with make_progress(progress) as bar:
        task = bar.add_task("forward speed", total=total)
        for name in plan.models:
            model, error = _build(name, device)
            for size in plan.sizes:
                for precision in plan.precisions:
                    for batch in plan.batches:
                        spent = time.perf_counter() - began
                        cells.append(
                            {"model": name}
                            | _cell(model, error, spent, plan, size, precision, batch)
                        )
                        bar.advance(task)
            del model
            _free(device)
    return cells


def _check_sample(sample: str | None) -> None:
    """Refuse, in one line, a ``--sample`` folder without ``images/``."""
    if sample is not None and not (Path(sample) / "images").is_dir():
        from endobench.errors import ConfigError

        raise ConfigError(
            f"--sample {sample}: no images/ folder there; pack one with `make gpu-sample`"
        )


def workloads(
    plan: CheckPlan, device, began: float, progress: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``run`` end to end and training throughput on the packed sample (each skipped, with the
    reason, without a sample or past ``plan.total_budget_s``)."""
    from endobench.checks.gpu_workloads import run_workload, train_workload

    def guarded(what: dict[str, Any], job) -> dict[str, Any]:
        if plan.sample is None:
            return what | {"status": "skipped", "reason": "no --sample DIR (make gpu-sample)"}
        if time.perf_counter() - began > plan.total_budget_s:
            reason = f"time budget of {plan.total_budget_s:.0f} s spent"
            return what | {"status": "skipped", "reason": reason}
        _note(progress, f"{what['workload']} {what['model']} at {what['size']} px")
        return what | _guarded(job)

    runs = [
        guarded(
            {"workload": "run", "model": m, "size": s, "batch": b},
            lambda m=m, s=s, b=b, r=r: run_workload(
                plan.sample,
                str(device),
                m,
                s,
                b,
                random_weights=r,
                workers=plan.run_workers,
                backend=plan.run_backend,
            ),
        )
        for m, s, b, r in plan.run_cases
    ]
    throughput = [
        guarded(
            {"workload": "train", "model": m, "size": s, "batch": b},
            lambda m=m, s=s, b=b: train_workload(
                plan.sample,
                str(device),
                m,
                s,
                b,
                epochs=plan.throughput_epochs,
                limit=plan.throughput_limit,
                workers=plan.run_workers,
            ),
        )
        for m, s, b in plan.throughput_cases
    ]
    return runs, throughput


def _cell(model, error, spent, plan: CheckPlan, size, precision, batch) -> dict[str, Any]:
    from endobench.checks.gpu_probes import one_line, speed_cell

    cell = {"size": size, "precision": precision, "batch": batch}
    if error is not None:
        return cell | {"status": "failed", "reason": error}
    if spent > plan.budget_s:
        return cell | {"status": "skipped", "reason": f"time budget of {plan.budget_s:.0f} s spent"}
    try:
        return speed_cell(
            model, size, precision, batch, warmup=plan.warmup, iterations=plan.iterations
        )
    except Exception as err:  # out of memory, say: recorded, the other cells go on
        return cell | {"status": "failed", "reason": one_line(err)}


def _build(name: str, device):
    """The model with random weights on the device, or the error that stopped it."""
    from endobench.checks.gpu_probes import one_line
    from endobench.models import create_model

    try:
        return create_model(name, pretrained_backbone=False).to(device).eval(), None
    except Exception as err:  # recorded in every cell of the model
        return None, one_line(err)


def _free(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()


def _guarded(probe) -> dict[str, Any]:
    from endobench.checks.gpu_probes import one_line

    began = time.perf_counter()
    try:
        return probe()
    except Exception as err:  # recorded: the check still prints its JSON
        return {"status": "failed", "reason": one_line(err), "seconds": time.perf_counter() - began}


def _target(speed: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 10's GPU target: ``brp_post`` (``brp``'s network) at 512 px, batch 1, fp16, >= 300 FPS."""
    cell = next(
        (
            c
            for c in speed
            if (c["model"], c["size"], c["precision"], c["batch"]) == ("brp", 512, "fp16", 1)
        ),
        None,
    )
    fps = cell.get("images_per_s") if cell else None
    return {
        "rule": "brp_post (the brp network) at 512 px, batch 1, fp16: >= 300 FPS",
        "fps": fps,
        "met": None if fps is None else fps >= 300.0,
    }


def _passed(record: dict[str, Any]) -> bool:
    """No speed cell or workload failed; the training smoke run, the fp32 agreement and the
    stream ran (the targets are reported, not required)."""
    speed_ok = all(cell["status"] != "failed" for cell in record["speed"])
    workloads_ok = all(w["status"] != "failed" for w in record["run"] + record["train_throughput"])
    return (
        speed_ok
        and workloads_ok
        and record["training"]["status"] == "ok"
        and record["agreement"]["status"] == "ok"
        and record.get("stream", {}).get("status") == "ok"
    )


def _note(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def write_record(record: dict[str, Any], path: str | Path) -> Path:
    """Write the check's JSON atomically."""
    from endobench.io import write_json_atomic

    return write_json_atomic(Path(path), record)


def main(argv: list[str] | None = None) -> int:
    """``python -m endobench.checks.gpu_check [--device D] [--quick] [--out F]``: print the JSON.

    Returns:
        0 when the check passed, 1 when a probe failed, 2 for a user's error (no GPU here).
    """
    from endobench.errors import EndobenchError

    parser = argparse.ArgumentParser(prog="python -m endobench.checks.gpu_check")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1-2 iterations")
    parser.add_argument(
        "--out", default=None, help=f"write the JSON here too (default: {DOCS_JSON}, GPU runs only)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--sample", default=None, help="packed sample folder (make gpu-sample) for run and train"
    )
    args = parser.parse_args(argv)
    try:
        plan = plan_for(args.device, args.quick, args.sample)
        record = run_gpu_check(plan, not args.no_progress)
    except EndobenchError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    out = args.out or (DOCS_JSON if record["device"] == "cuda" and not args.quick else None)
    if out is not None:
        write_record(record, out)
    print(json.dumps(record, indent=2))
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
