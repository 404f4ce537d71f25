"""``endobench run``: inference over data sets into a run folder, with timing and scores.

One DataLoader feeds every set of the run (workers decode and preprocess, the main process runs
the model, restores each prediction to its image's size, binarises it and writes it). Per-image
progress goes to an append-only journal (``.journal.jsonl``) so that an interrupted run resumes
with the images whose outputs are missing; the final files are written atomically.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError
from endobench.runner.config import RESUME_KEYS, RunConfig
from endobench.runner.sources import InputSet, build_manifest, resolve_inputs

JOURNAL = ".journal.jsonl"


@dataclass
class SetResult:
    """What a run produced for one set."""

    images: int
    inferred: int
    skipped: int
    summary: dict[str, Any] | None = None
    standard: dict[str, Any] | None = None


@dataclass
class RunResult:
    """A finished run: its folder, per-set results, timing record and leaderboard record path."""

    run_dir: Path
    name: str
    sets: dict[str, SetResult] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    record_path: Path | None = None


def run_sweep(config: RunConfig) -> list[RunResult]:
    """Run once per input size of ``config.sizes`` (``<name>-<size>`` folders), or once.

    Returns:
        One result per size.
    """
    config.validate()
    if not config.sizes:
        return [run_benchmark(config)]
    sets = resolve_inputs(
        config.datasets, config.images, config.masks, config.data_root, config.skip_problems
    )
    with _threads(config.threads):
        return [_run(config.for_size(size, sweep=True), sets) for size in config.sizes]


def run_benchmark(config: RunConfig) -> RunResult:
    """Run a model over the configured inputs and write the run folder.

    Args:
        config: The run's options (one input size; use :func:`run_sweep` for ``sizes``).

    Returns:
        The run's result.

    Raises:
        EndobenchError: Bad options, unreadable inputs, an existing run folder without
            ``force``/``resume``, unusable weights.
    """
    config.validate()
    if config.sizes:
        raise ConfigError("run_benchmark runs one size; use run_sweep for --sizes")
    sets = resolve_inputs(
        config.datasets, config.images, config.masks, config.data_root, config.skip_problems
    )
    with _threads(config.threads):
        return _run(config, sets)


@contextlib.contextmanager
def _threads(threads: int | None):
    """Run with ``threads`` torch CPU threads, restoring the previous number afterwards."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _read_journal(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.is_file():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by an interruption
        entries[(entry["set"], entry["name"])] = entry
    return entries


def _run(config: RunConfig, sets: list[InputSet]) -> RunResult:
    from endobench.env import environment
    from endobench.runner.engine import Engine
    from endobench.runner.progress import make_progress, print_summary
    from endobench.writers import run_folder as rf

    _seed(config.seed)
    engine = Engine.create(
        config.model,
        config.weights,
        config.size,
        config.device,
        config.dtype,
        config.optimise,
        config.random_weights,
    )
    config = _with_defaults(config, engine.size)
    run_dir = config.run_dir()
    recorded = config.to_dict() | {"size": engine.size, "sets": [s.name for s in sets]}
    if config.resume and run_dir.is_dir():
        rf.check_resumable(run_dir, recorded, RESUME_KEYS)
    rf.prepare_run_dir(run_dir, force=config.force, resume=config.resume)

    with make_progress(config.progress) as progress:
        total = sum(len(s.dataset) for s in sets)
        task = progress.add_task("hashing inputs", total=total)
        manifest = build_manifest(sets, lambda n: progress.advance(task, n))
        progress.remove_task(task)
    if (run_dir / rf.MANIFEST_JSON).is_file():
        _fill_sizes(manifest, rf.read_manifest(run_dir))
    manifest_sha = rf.manifest_hash(manifest)
    previous = rf.read_run_json(run_dir, required=False)
    if previous and previous.get("manifest_sha256") not in (None, manifest_sha):
        raise ConfigError(
            f"cannot resume {run_dir}: its input images changed since it started; pass --force to start over"
        )
    if previous and previous.get("weights_sha256") != engine.weights_sha256:
        raise ConfigError(
            f"cannot resume {run_dir}: it was made with other weights (sha256 "
            f"{str(previous.get('weights_sha256'))[:12]}); pass --force to start over"
        )
    info = {
        "name": run_dir.name,
        "status": "running",
        "created": (previous or {}).get("created")
        or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": recorded,
        "model_config": engine.model_config,
        "weights_sha256": engine.weights_sha256,
        "device": engine.device.type,
        "device_name": engine.device_name,
        "manifest_sha256": manifest_sha,
        "seed": config.seed,
        "environment": environment(include_torch=True),
        "sets": {
            s.name: {"source": s.source, "images": len(s.dataset), "has_truth": s.has_truth}
            for s in sets
        },
    }
    rf.write_run_json(run_dir, info)
    rf.write_manifest(run_dir, manifest)

    from endobench.runner.inference import infer

    journal = _read_journal(run_dir / JOURNAL)
    log, counts = infer(engine, config, run_dir, manifest, journal, run_dir / JOURNAL)
    journal = _read_journal(run_dir / JOURNAL)
    rf.write_manifest(run_dir, manifest)  # sizes the headers did not give were filled by decoding

    result = RunResult(run_dir=run_dir, name=run_dir.name)
    for input_set in sets:
        entries = manifest[input_set.name]
        rf.write_time_file(
            run_dir,
            input_set.name,
            [
                (e["name"], journal[(input_set.name, e["name"])]["ms"])
                for e in entries
                if (input_set.name, e["name"]) in journal
            ],
        )
        inferred, skipped = counts.get(input_set.name, (0, 0))
        result.sets[input_set.name] = SetResult(len(entries), inferred, skipped)

    timing = _timing(engine, config, log, journal, run_dir)
    rf.write_timing_json(run_dir, timing)
    result.timing = timing

    if config.score:
        from endobench.writers.scores import score_set

        scored = [s for s in sets if s.has_truth]
        with make_progress(config.progress) as progress:
            for input_set in scored:
                task = progress.add_task(f"scoring {input_set.name}", total=len(input_set.dataset))
                scores = score_set(
                    run_dir,
                    input_set.name,
                    manifest[input_set.name],
                    config.save_prob,
                    lambda n, t=task: progress.advance(t, n),
                )
                result.sets[input_set.name].summary = scores["summary"]
                result.sets[input_set.name].standard = scores["standard"]
                paths = scores["paths"]
                info["sets"][input_set.name].update(
                    scores_json=str(paths["json"].relative_to(run_dir)),
                    scores_csv=str(paths["csv"].relative_to(run_dir)),
                    standard_json=str(paths["standard"].relative_to(run_dir)),
                )
    info["status"] = "complete"
    info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rf.write_run_json(run_dir, info)
    if config.record:
        from endobench.leaderboard.records import add_record

        result.record_path = add_record(run_dir, config.leaderboard, force=True)
    if config.progress:
        print_summary(result)
    return result


def _fill_sizes(manifest: dict[str, list[dict]], previous: dict[str, list[dict]]) -> None:
    """Take image sizes that no header gave from an earlier session's manifest (resume)."""
    known = {(s, e["name"]): e for s, rows in previous.items() for e in rows if e.get("height")}
    for set_name, rows in manifest.items():
        for entry in rows:
            old = known.get((set_name, entry["name"]))
            if entry.get("height") is None and old is not None:
                entry["height"], entry["width"] = old["height"], old["width"]


def _with_defaults(config: RunConfig, size: int) -> RunConfig:
    from dataclasses import replace

    return replace(config, size=size, name=config.run_name(size))


def _timing(engine, config: RunConfig, log, journal, run_dir: Path) -> dict[str, Any]:
    from endobench.runner.timing import timing_record

    if log.images == 0 and (run_dir / "timing.json").is_file():
        # Nothing was left to infer on resume: keep the figures measured when the images ran.
        return json.loads((run_dir / "timing.json").read_text(encoding="utf-8"))
    log.batch1_ms = {
        f"{k[0]}/{k[1]}": v["b1"] for k, v in journal.items() if v.get("b1") is not None
    }
    scope = (
        "all images"
        if config.batch_size == 1
        else f"an evenly spaced subset of up to {config.fps_images} images, also run at batch 1"
    )
    timer_clock = "CUDA events" if engine.device.type == "cuda" else "time.perf_counter"
    return timing_record(
        log,
        conditions=engine.conditions(config.num_workers, config.batch_size),
        batch_size=config.batch_size,
        warmup=config.warmup,
        clock=timer_clock,
        scope=scope,
    )
