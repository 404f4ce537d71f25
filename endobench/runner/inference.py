"""The inference loop of a run: load, forward (timed), restore, binarise, write, journal."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from endobench.data.inputs import evenly_spaced
from endobench.runner.config import RunConfig
from endobench.runner.engine import Engine
from endobench.runner.live import make_progress
from endobench.runner.loading import ImageItems, make_loader
from endobench.runner.timing import ForwardTimer, TimingLog
from endobench.runner.writer_pool import OutputWriter
from endobench.stopping import Interrupted, stop_requested
from endobench.writers.run_folder import RunFolder

#: Per set: ``(images inferred in this session, images skipped as already done)``.
InferenceCounts = dict[str, tuple[int, int]]
Manifest = dict[str, list[dict[str, Any]]]


def pending_items(
    config: RunConfig,
    folder: RunFolder,
    manifest: Manifest,
    journal: Mapping[tuple[str, str], Any],
) -> tuple[list[tuple[str, str, str]], InferenceCounts]:
    """Return the images still to infer and, per set, ``(to infer, skipped)`` counts.

    Without ``--resume`` every image is pending. With it, an image is skipped when its journal
    line exists and its outputs decode at the image's size.
    """
    items: list[tuple[str, str, str]] = []
    counts: InferenceCounts = {}
    for set_name, entries in manifest.items():
        todo = skipped = 0
        for entry in entries:
            size = (entry["height"], entry["width"]) if entry.get("height") else None
            done = (
                config.resume
                and (set_name, entry["name"]) in journal
                and folder.outputs_complete(set_name, entry["name"], size, config.save_prob)
            )
            if done:
                skipped += 1
            else:
                todo += 1
                items.append((set_name, entry["name"], entry["file"]))
        counts[set_name] = (todo, skipped)
    return items, counts


def infer(
    engine: Engine,
    config: RunConfig,
    folder: RunFolder,
    manifest: Manifest,
    on_written: Callable[[str, str], None] | None = None,
) -> tuple[TimingLog, InferenceCounts]:
    """Predict every pending image, write its outputs and journal its forward times.

    Restoring, binarising and writing run on ``RunConfig.writers`` background threads
    (:class:`endobench.runner.writer_pool.OutputWriter`) while the next batches are inferred.

    Args:
        engine: The predictor and device.
        config: The run's options.
        folder: The started run folder (its journal tells what an earlier session finished).
        manifest: The run's manifest; missing sizes are filled in place from the decoded images.
        on_written: Called with ``(set, name)`` once an image's outputs and journal line are
            written (in inference order), e.g. to score it while the next images are inferred.

    Returns:
        The timing log of this session and per set ``(inferred, skipped)``.

    Raises:
        Interrupted: A stop was requested (:mod:`endobench.stopping`): the batches in hand were
            written and journalled, the rest were not started.
    """
    items, counts = pending_items(config, folder, manifest, folder.read_journal())
    log = TimingLog()
    if not items:
        return log, counts
    loader = make_loader(
        ImageItems(items, engine.preprocess),
        config.batch_size,
        config.num_workers,
        engine.device.type == "cuda",
    )
    step = _BatchStep(engine, config, log, len(items))
    entries = {(s, e["name"]): e for s, rows in manifest.items() for e in rows}
    log.start()
    with (
        torch.inference_mode(),
        folder.journal_writer() as journal,
        make_progress(config.progress) as progress,
        OutputWriter(
            engine.probability_and_mask,
            folder.write_prediction,
            journal,
            config.save_prob,
            writer_threads(config),
            on_written,
        ) as writer,
    ):
        task = progress.add_task(f"{config.model} @ {engine.size}px", total=len(items))
        submitted = 0
        for batch in loader:
            if stop_requested():  # the batches in hand are written; the rest waits for --resume
                break
            output, millis, b1 = step(batch)
            for j, (set_name, name) in enumerate(zip(batch["set"], batch["name"], strict=True)):
                height, width = batch["height"][j], batch["width"][j]
                entry = entries[(set_name, name)]
                entry["height"], entry["width"] = height, width
                line = {"set": set_name, "name": name, "ms": millis / len(b1), "b1": b1[j]}
                writer.submit(set_name, name, output, j, (height, width), line)
            progress.advance(task, len(b1))
            submitted += len(b1)
        writer.close()
    log.stop()
    if submitted < len(items):
        skipped = sum(done for _, done in counts.values())
        raise Interrupted(skipped + submitted, skipped + len(items), "image")
    return log, counts


def writer_threads(config: RunConfig) -> int:
    """Background writer threads of a run (``RunConfig.writers``; 0 writes in the loop's thread)."""
    return max(0, int(getattr(config, "writers", 0) or 0))


class _BatchStep:
    """The timed forward pass of one batch, with the warm-up and the batch-1 timings around it."""

    def __init__(self, engine: Engine, config: RunConfig, log: TimingLog, total: int):
        self.engine = engine
        self.config = config
        self.log = log
        self.timer = ForwardTimer(engine.device)
        self.warmed = False
        self.batch1 = (
            set(range(total))
            if config.batch_size == 1
            else set(evenly_spaced(total, config.fps_images))
        )

    def __call__(self, batch: dict[str, Any]) -> tuple[Any, float, list[float | None]]:
        """Return the batch's probabilities on the host, its forward milliseconds and batch-1 times."""
        x = self.engine.to_device(batch["tensor"])
        if not self.warmed:
            self._warm_up(x)
        output, millis = self.timer(lambda: self.engine.forward(x))
        count = len(batch["name"])
        self.log.batch_ms.append((count, millis))
        b1: list[float | None] = [None] * count
        if self.config.batch_size == 1:
            b1[0] = millis
        else:
            for j, index in enumerate(batch["index"]):
                if index in self.batch1:
                    _, b1[j] = self.timer(_forward_one(self.engine, x, j))
                    self.log.excluded_s += b1[j] / 1000.0
        self.log.images += count
        return self.engine.to_host(output), millis, b1

    def _warm_up(self, x: torch.Tensor) -> None:
        """Untimed passes before the first timed one (excluded from the end-to-end rate)."""
        began = time.perf_counter()
        for _ in range(self.config.warmup):
            self.engine.forward(x[:1])
        if self.config.batch_size > 1:
            self.engine.forward(x)
        self.log.excluded_s += time.perf_counter() - began
        self.warmed = True


def _forward_one(engine: Engine, x: torch.Tensor, j: int) -> Callable[[], torch.Tensor]:
    return lambda: engine.forward(x[j : j + 1])
