"""``endobench run``: inference over data sets into a run folder, with timing and scores.

One DataLoader feeds every set of the run (workers decode and preprocess, the main process runs
the model, restores each prediction to its image's size, binarises it and writes it). Per-image
progress goes to an append-only journal (``.journal.jsonl``) so that an interrupted run resumes
with the images whose outputs are missing; the final files are written atomically.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from endobench.errors import ConfigError
from endobench.runner.config import RESUME_KEYS, RunConfig
from endobench.runner.live import make_progress, print_summary
from endobench.runner.result import RunResult, SetResult
from endobench.runner.shards import Shard, infer_shards, open_shard, timing_with_ranks
from endobench.runner.sources import InputSet, build_manifest, resolve_inputs
from endobench.runner.timing import TimingLog, timing_record
from endobench.stopping import Interrupted
from endobench.writers.run_folder import RunFolder

if TYPE_CHECKING:  # torch is imported when a run starts, not with the package
    from endobench.runner.engine import Engine
    from endobench.runner.inference import InferenceCounts
    from endobench.runner.score_pool import ScorePool

Manifest = dict[str, list[dict[str, Any]]]


def run_sweep(config: RunConfig, select_backend: Callable | None = None) -> list[RunResult]:
    """Run once per input size of ``config.sizes`` (``<name>-<size>`` folders), or once.

    ``select_backend`` is passed to :func:`run_benchmark`.

    Returns:
        One result per size.
    """
    config.validate()
    if not config.sizes:
        return [run_benchmark(config, select_backend)]
    with open_shard(config.device) as shard:
        config = _split_cores(config, shard)
        sets = _inputs(config)
        with _threads(config.threads):
            return [
                _run(config.for_size(size, sweep=True), sets, shard, select_backend)
                for size in config.sizes
            ]


def run_benchmark(config: RunConfig, select_backend: Callable | None = None) -> RunResult:
    """Run a model over the configured inputs and write the run folder.

    Args:
        config: The run's options (one input size; use :func:`run_sweep` for ``sizes``).
        select_backend: The fastest-verified-backend rule,
            ``endobench.export.fast_backend.select_fast_backend`` (what ``endobench run`` passes;
            the runner imports no ``export``); None runs the predictor as resolved.

    Returns:
        The run's result.

    Raises:
        EndobenchError: Bad options, unreadable inputs, an existing run folder without
            ``force``/``resume``, unusable weights.
    """
    config.validate()
    if config.sizes:
        raise ConfigError("run_benchmark runs one size; use run_sweep for --sizes")
    with open_shard(config.device) as shard:
        config = _split_cores(config, shard)
        sets = _inputs(config)
        with _threads(config.threads):
            return _run(config, sets, shard, select_backend)


def _inputs(config: RunConfig) -> list[InputSet]:
    return resolve_inputs(
        config.datasets,
        config.images,
        config.masks,
        config.data_root,
        config.skip_problems,
        negatives=config.negatives,
        positives=config.positives,
    )


def _split_cores(config: RunConfig, shard: Shard) -> RunConfig:
    """Torch threads and DataLoader workers within the usable cores (see ``plan_threads``); under
    torchrun, within this rank's share of the node's cores."""
    from endobench.runner.conditions import plan_threads

    plan = plan_threads(config.threads, config.num_workers, shard.cores(), config.writers)
    return replace(config, threads=plan.threads, num_workers=plan.workers, writers=plan.writers)


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


def _run(
    config: RunConfig, sets: list[InputSet], shard: Shard, select_backend: Callable | None = None
) -> RunResult:
    """One size of a run: build the model, open the folder, infer, time, score, finish.

    Under torchrun (see :mod:`endobench.runner.shards`) rank 0 opens the folder, every rank infers
    its share, and rank 0 alone writes the rest.
    """
    from endobench.runner.engine import Engine

    _seed(config.seed)
    progress = config.progress and shard.is_main
    engine = Engine.for_run(config, shard.device, progress, select_backend)
    config = config.settled(
        engine.predictor.model_name, engine.size, engine.backend, engine.precision
    )
    config, folder, manifest = shard.main_result(lambda: _open(config, engine, sets))
    scored = [s for s in sets if s.has_frame_truth] if config.score else []
    with _score_pool(folder, manifest, scored, config, shard) as pool:
        try:
            outcome = infer_shards(shard, engine, config, folder, manifest, pool.submit)
        except Interrupted:
            if shard.is_main:
                folder.interrupt()
            raise
        if not shard.is_main:
            return RunResult(run_dir=folder.path, name=folder.name)
        result = _write_times(folder, sets, manifest, outcome.counts)
        result.timing = timing_with_ranks(
            _timing(engine, config, outcome.log, folder), shard, outcome
        )
        folder.write_timing(result.timing)
        if scored:
            _score_sets(folder, scored, manifest, config, result, pool)
    folder.finish()
    if config.record:
        from endobench.leaderboard.records import add_record

        result.record_path = add_record(folder.path, config.leaderboard, force=True)
    if config.progress:
        print_summary(result)
    return result


def _score_pool(
    folder: RunFolder, manifest: Manifest, scored: list[InputSet], config: RunConfig, shard: Shard
) -> ScorePool:
    """Worker processes scoring each written image while the next are inferred (rank 0 alone)."""
    from endobench.runner.score_pool import ScorePool

    processes = shard.cores() if shard.is_main else 0
    kinds = {s.name: not s.positive_frames for s in scored}
    return ScorePool(folder.path, manifest, kinds, config.save_prob, processes)


def _open(
    config: RunConfig, engine: Engine, sets: list[InputSet]
) -> tuple[RunConfig, RunFolder, Manifest]:
    """Open the run folder, hash the inputs and start ``run.json`` (rank 0 alone under torchrun)."""
    recorded = config.to_dict() | {"size": engine.size, "sets": [s.name for s in sets]}
    folder = RunFolder.open(
        config.run_dir(),
        recorded,
        force=config.force,
        resume=config.resume,
        resume_keys=RESUME_KEYS,
    )
    manifest = _hash_inputs(sets, config.progress)
    _start(folder, engine, config, sets, manifest)
    return config, folder, manifest


def _hash_inputs(sets: list[InputSet], progress: bool) -> Manifest:
    """Return the run's manifest: every input image with its size (when a header gives it) and hash."""
    with make_progress(progress) as bar:
        task = bar.add_task("hashing inputs", total=sum(len(s.dataset) for s in sets))
        manifest = build_manifest(sets, lambda n: bar.advance(task, n))
        bar.remove_task(task)
    return manifest


def _start(
    folder: RunFolder, engine: Engine, config: RunConfig, sets: list[InputSet], manifest: Manifest
) -> None:
    """Start the run folder with what ``run.json`` records about the engine and the inputs."""
    from endobench.env import environment

    folder.start(
        manifest,
        sets={
            s.name: {"source": s.source, "images": len(s.dataset), "has_truth": s.has_truth}
            for s in sets
        },
        model_config=engine.model_config,
        weights_sha256=engine.weights_sha256,
        device=engine.device.type,
        device_name=engine.device_name,
        backend=engine.backend,
        backend_choice=engine.backend_choice,
        precision=engine.precision,
        seed=config.seed,
        environment=environment(include_torch=True),
    )


def _write_times(
    folder: RunFolder, sets: list[InputSet], manifest: Manifest, counts: InferenceCounts
) -> RunResult:
    """Write the manifest (sizes now known) and each set's toolkit time file; count the images."""
    folder.write_manifest(manifest)
    journal = folder.read_journal()
    result = RunResult(run_dir=folder.path, name=folder.name)
    for input_set in sets:
        entries = manifest[input_set.name]
        keys = [(input_set.name, e["name"]) for e in entries]
        folder.write_times(input_set.name, [(k[1], journal[k]["ms"]) for k in keys if k in journal])
        inferred, skipped = counts.get(input_set.name, (0, 0))
        result.sets[input_set.name] = SetResult(len(entries), inferred, skipped)
    return result


def _score_sets(
    folder: RunFolder,
    sets: list[InputSet],
    manifest: Manifest,
    config: RunConfig,
    result: RunResult,
    pool: ScorePool,
) -> None:
    """Score every set with ground truth from its written files and write its scores; sets of
    ``--positives`` frames get the detection figures alone. With several sets, the detection
    figures of all their frames pooled go to ``run.json`` (the only AUROC of a run whose polyp and
    polyp-free frames are separate sets)."""
    from endobench.metrics.set_scorer import pooled_detection
    from endobench.runner.scoring import run_scorer, score_set

    scorers = []
    journal = folder.read_journal()
    pool.submit_all((s.name, e["name"]) for s in sets for e in manifest[s.name])
    with make_progress(config.progress) as bar:
        for input_set in sets:
            task = bar.add_task(f"scoring {input_set.name}", total=len(input_set.dataset))
            entries = manifest[input_set.name]
            frame_scores = {
                e["name"]: journal.get((input_set.name, e["name"]), {}).get("max_prob")
                for e in entries
            }

            def advance(n: int, t=task) -> None:
                bar.advance(t, n)

            truth = not input_set.positive_frames
            scorers.append(run_scorer(truth, config.save_prob))
            scores = score_set(
                folder.path,
                input_set.name,
                entries,
                config.save_prob,
                advance,
                frame_scores,
                pool.result,
                truth,
                scorers[-1],
            )
            _write_set_scores(folder, input_set.name, scores, result.sets[input_set.name])
    if len(sets) > 1:
        result.detection = pooled_detection(scorers)
        folder.note_detection(result.detection)


def _write_set_scores(folder: RunFolder, set_name: str, scores, entry: SetResult) -> None:
    """Write one set's scores (the detection figures alone for polyp frames without masks)."""
    entry.detection = scores.detection
    if scores.summary is None:
        folder.write_detection(set_name, scores.detection)
        return
    pranet_eval = scores.extras.get("pranet_eval")
    folder.write_scores(
        set_name, scores.summary, scores.rows, scores.standard, scores.detection, pranet_eval
    )
    entry.summary = scores.summary
    entry.standard = scores.standard
    entry.pranet_eval = pranet_eval


def _timing(engine: Engine, config: RunConfig, log: TimingLog, folder: RunFolder) -> dict[str, Any]:
    """The run's timing record (kept from the earlier session when nothing was left to infer)."""
    previous = folder.read_timing()
    if log.images == 0 and previous is not None:
        return previous
    log.batch1_ms = {
        f"{k[0]}/{k[1]}": v["b1"]
        for k, v in folder.read_journal().items()
        if v.get("b1") is not None
    }
    scope = (
        "all images"
        if config.batch_size == 1
        else f"an evenly spaced subset of up to {config.fps_images} images, also run at batch 1"
    )
    return timing_record(
        log,
        conditions=engine.conditions(config.num_workers, config.batch_size)
        | {"writers": config.writers},
        batch_size=config.batch_size,
        warmup=config.warmup,
        clock="CUDA events" if engine.device.type == "cuda" else "time.perf_counter",
        scope=scope,
    )
