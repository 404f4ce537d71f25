"""The inference loop of a run: load, forward (timed), restore, binarise, write, journal."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from endobench.runner.config import RunConfig
from endobench.runner.engine import Engine
from endobench.runner.loading import ImageItems, make_loader
from endobench.runner.timing import ForwardTimer, TimingLog, evenly_spaced
from endobench.writers.masks import mask_path, outputs_complete, prob_path, write_mask, write_prob


def pending_items(
    config: RunConfig,
    run_dir: Path,
    manifest: dict[str, list[dict[str, Any]]],
    journal: dict[tuple[str, str], dict[str, Any]],
) -> tuple[list[tuple[str, str, str]], dict[str, tuple[int, int]]]:
    """Return the images still to infer and, per set, ``(to infer, skipped)`` counts.

    Without ``--resume`` every image is pending. With it, an image is skipped when its journal
    line exists and its outputs decode at the image's size.
    """
    items: list[tuple[str, str, str]] = []
    counts: dict[str, tuple[int, int]] = {}
    for set_name, entries in manifest.items():
        todo = skipped = 0
        for entry in entries:
            size = (entry["height"], entry["width"]) if entry.get("height") else None
            done = (
                config.resume
                and (set_name, entry["name"]) in journal
                and outputs_complete(run_dir, set_name, entry["name"], size, config.save_prob)
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
    run_dir: Path,
    manifest: dict[str, list[dict[str, Any]]],
    journal: dict[tuple[str, str], dict[str, Any]],
    journal_path: Path,
) -> tuple[TimingLog, dict[str, tuple[int, int]]]:
    """Predict every pending image, write its outputs and journal its forward times.

    Args:
        engine: The predictor and device.
        config: The run's options.
        run_dir: The run folder.
        manifest: The run's manifest; missing sizes are filled in place from the decoded images.
        journal: Journal entries of an earlier, interrupted session (for ``--resume``).
        journal_path: The journal file, appended to as images finish.

    Returns:
        The timing log of this session and per set ``(inferred, skipped)``.
    """
    from endobench.runner.progress import make_progress

    items, counts = pending_items(config, run_dir, manifest, journal)
    log = TimingLog()
    if not items:
        return log, counts
    entries = {(s, e["name"]): e for s, rows in manifest.items() for e in rows}
    loader = make_loader(
        ImageItems(items, engine.preprocess),
        config.batch_size,
        config.num_workers,
        engine.device.type == "cuda",
    )
    timer = ForwardTimer(engine.device)
    batch1 = (
        set(range(len(items)))
        if config.batch_size == 1
        else set(evenly_spaced(len(items), config.fps_images))
    )
    warmed = False
    _end_torn_line(journal_path)
    log.start()
    with (
        torch.inference_mode(),
        journal_path.open("a", encoding="utf-8") as journal_file,
        make_progress(config.progress) as progress,
    ):
        task = progress.add_task(f"{config.model} @ {engine.size}px", total=len(items))
        for batch in loader:
            x = engine.to_device(batch["tensor"])
            if not warmed:
                began = time.perf_counter()
                for _ in range(config.warmup):
                    engine.forward(x[:1])
                if config.batch_size > 1:
                    engine.forward(x)
                log.excluded_s += time.perf_counter() - began
                warmed = True
            output, millis = timer(lambda x=x: engine.forward(x))
            count = len(batch["name"])
            log.batch_ms.append((count, millis))
            b1: list[float | None] = [None] * count
            if config.batch_size == 1:
                b1[0] = millis
            else:
                for j, index in enumerate(batch["index"]):
                    if index in batch1:
                        _, b1[j] = timer(lambda j=j, x=x: engine.forward(x[j : j + 1]))
                        log.excluded_s += b1[j] / 1000.0
            output = engine.to_host(output)
            for j in range(count):
                set_name, name = batch["set"][j], batch["name"][j]
                height, width = batch["height"][j], batch["width"][j]
                probability, mask = engine.finish(output, j, height, width)
                write_mask(mask_path(run_dir, set_name, name), mask)
                if config.save_prob:
                    write_prob(prob_path(run_dir, set_name, name), probability)
                entry = entries[(set_name, name)]
                entry["height"], entry["width"] = height, width
                line = {"set": set_name, "name": name, "ms": millis / count, "b1": b1[j]}
                journal_file.write(json.dumps(line) + "\n")
                journal_file.flush()
            log.images += count
            progress.advance(task, count)
    log.stop()
    return log, counts


def _end_torn_line(path: Path) -> None:
    """End a journal whose last line was cut by an interruption, so new lines start clean."""
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, 2)
            torn = handle.read(1) != b"\n"
        if torn:
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n")
