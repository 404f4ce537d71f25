"""Scoring a run's images in worker processes while the rest of the run is still being inferred.

The standard metrics cost several times the EndoCV numbers (weighted F, E-measure, the boundary
Hausdorff distances), as much as the forward pass itself. So as soon as an image's files are written
(its journal line appended), :class:`ScorePool` hands it to a process pool, which scores it from the
files as written (:func:`endobench.runner.scoring.score_image`); the set's scorer then adds the
measured frames in the manifest's order (:func:`endobench.runner.scoring.score_set`), so every
score is the same to the byte as scoring one image after another.

Processes, not threads: scipy's morphology and pysodmetrics hold the GIL for long stretches, which
would stall the timed forward pass. They are forked when the pool opens, before inference starts
its DataLoader workers and writer threads. The processes run at a lower priority (:data:`NICENESS`), so
while the model runs they take the cycles it leaves; once inference ends they have every core.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from endobench.metrics.set_scorer import MeasuredFrame
from endobench.runner.scoring import score_image

#: How much lower the scoring processes' priority is than the run's (``os.nice``).
NICENESS = 19
#: How often a scoring process checks that the run's process still exists.
WATCH_SECONDS = 1.0

Manifest = dict[str, list[dict[str, Any]]]


def _start_worker(parent: int) -> None:
    """Run at a lower priority, and end when the run's process is gone (even killed with ``kill
    -9``: the forked workers hold the task queue open for each other and would wait forever);
    Ctrl-C is left to the run's process."""
    from endobench.stopping import ignore_interrupts

    ignore_interrupts()
    try:
        os.nice(NICENESS)
    except (AttributeError, OSError):  # no nice on this platform, or not allowed: run as is
        pass
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def _context() -> multiprocessing.context.BaseContext:
    """Fork where the platform has it: nothing to import again, and no ``__main__`` guard needed
    in a script that calls the runner; the pool forks before the run starts any thread."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class ScorePool:
    """Per-image scoring in ``processes`` worker processes (0: each image when asked, in-process).

    Args:
        run_dir: The run folder.
        manifest: The run's manifest (sizes filled in while inferring).
        sets: The sets to score: name -> True for sets with truth, False for ``--positives`` frames
            (detection only).
        use_prob: Score the standard metrics on the probability maps.
        processes: Worker processes.
    """

    def __init__(
        self,
        run_dir: str | Path,
        manifest: Manifest,
        sets: Mapping[str, bool],
        use_prob: bool,
        processes: int,
    ):
        self.run_dir = str(run_dir)
        self.sets = dict(sets)
        self.use_prob = use_prob
        self.processes = max(0, processes)
        self._entries = {
            (set_name, entry["name"]): entry
            for set_name, entries in manifest.items()
            if set_name in self.sets
            for entry in entries
        }
        self._futures: dict[tuple[str, str], concurrent.futures.Future] = {}
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if self.processes and self._entries:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.processes,
                mp_context=_context(),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            self._pool.submit(int)  # start every process now, before threads exist to fork

    def submit(self, set_name: str, name: str) -> None:
        """Start scoring one written image (ignored for sets not scored, or without processes)."""
        key = (set_name, name)
        if self._pool is None or key not in self._entries or key in self._futures:
            return
        self._futures[key] = self._pool.submit(
            score_image,
            self.run_dir,
            set_name,
            dict(self._entries[key]),
            self.use_prob,
            self.sets[set_name],
        )

    def submit_all(self, keys: Iterable[tuple[str, str]]) -> None:
        """Start scoring the images not started yet (those an earlier session wrote, say)."""
        for set_name, name in keys:
            self.submit(set_name, name)

    def result(self, set_name: str, entry: Mapping[str, Any]) -> MeasuredFrame:
        """One image's result: from its worker when started there, else computed now.

        Raises:
            EndobenchError: A file of the image cannot be read (as scoring it here would).
        """
        future = self._futures.pop((set_name, entry["name"]), None)
        if future is not None:
            return future.result()
        return score_image(self.run_dir, set_name, entry, self.use_prob, self.sets[set_name])

    def close(self) -> None:
        """Stop the workers (cancelling what was not started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()

    def __enter__(self) -> ScorePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
