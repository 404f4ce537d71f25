"""Restoring, binarising and writing each image's outputs on background threads, behind inference.

The forward pass of image ``i + 1`` runs while threads restore image ``i``'s probabilities to its
original size, binarise them, encode the JPEG mask (and PNG map) and write them atomically:
OpenCV's resize and encoders and the file writes release the GIL. The queue is bounded, so a slow
disk holds inference back instead of filling the memory.

What the files and the journal say does not depend on the threads:

* each image's outputs are computed from its own batch output by the same functions as without
  threads, so the bytes are the same;
* the journal line of an image is appended only after its files are written (renamed into place),
  and lines are appended in the order the images were inferred, by the calling thread alone; an
  interrupted run therefore resumes exactly as a sequential one would.

With ``threads=0`` every image is finished in the calling thread at once: the sequential path.
"""

from __future__ import annotations

import collections
import concurrent.futures
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from endobench.runner.loading import lower_priority

#: Images waiting to be written, per writer thread, before ``submit`` waits for the oldest.
PENDING_PER_THREAD = 4


@dataclass
class _Job:
    """One image on its way to the disk: its journal line, and the future of its max probability."""

    set_name: str
    name: str
    line: dict[str, Any]
    future: concurrent.futures.Future


class OutputWriter:
    """Writes predictions on ``threads`` background threads and journals them in order.

    Args:
        finish: ``(batch output, index, height, width) -> (probability, mask)`` (``Engine.probability_and_mask``).
        write: ``(set, name, mask, probability or None) -> None`` (``RunFolder.write_prediction``).
        journal: Appends one journal line (``RunFolder.journal_writer``'s function).
        save_prob: Also write the probability map.
        threads: Writer threads; 0 finishes and writes each image in the calling thread.
        on_written: Called in the calling thread with ``(set, name)`` after an image's journal line.
    """

    def __init__(
        self,
        finish: Callable[[np.ndarray, int, int, int], tuple[np.ndarray, np.ndarray]],
        write: Callable[[str, str, np.ndarray, np.ndarray | None], Any],
        journal: Callable[[Mapping[str, Any]], None],
        save_prob: bool,
        threads: int,
        on_written: Callable[[str, str], None] | None = None,
    ):
        self._finish = finish
        self._write = write
        self._journal = journal
        self._save_prob = save_prob
        self._on_written = on_written
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(
                threads, thread_name_prefix="endobench-writer", initializer=lower_priority
            )
            if threads > 0
            else None
        )
        self._limit = max(1, threads) * PENDING_PER_THREAD
        self._pending: collections.deque[_Job] = collections.deque()

    def submit(
        self,
        set_name: str,
        name: str,
        output: np.ndarray,
        index: int,
        size: tuple[int, int],
        line: dict[str, Any],
    ) -> None:
        """Queue one image of a batch's host output; its journal line gains ``max_prob``.

        Waits for the oldest image when the queue is full. Journals every image written so far.

        Raises:
            EndobenchError: Writing an earlier image failed (e.g. ``OutputError``).
        """
        args = (set_name, name, output, index, int(size[0]), int(size[1]))
        if self._pool is None:
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_result(self._finish_one(*args))
        else:
            future = self._pool.submit(self._finish_one, *args)
        self._pending.append(_Job(set_name, name, line, future))
        self._journal_done(wait_for=len(self._pending) - self._limit)

    def close(self) -> None:
        """Wait for every queued image and journal it (raising the first write's error)."""
        try:
            self._journal_done(wait_for=len(self._pending))
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Stop: cancel images not started, wait for those being written, journal nothing more."""
        for job in self._pending:
            job.future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()

    def _finish_one(
        self, set_name: str, name: str, output: np.ndarray, index: int, height: int, width: int
    ) -> float:
        """Restore, binarise and write one image; return its maximum probability."""
        probability, mask = self._finish(output, index, height, width)
        self._write(set_name, name, mask, probability if self._save_prob else None)
        # The frame's detection score (metrics.detection), kept for the AUROC.
        return float(probability.max()) if probability.size else 0.0

    def _journal_done(self, wait_for: int) -> None:
        """Journal finished images from the oldest on, waiting for the ``wait_for`` oldest."""
        while self._pending and (wait_for > 0 or self._pending[0].future.done()):
            job = self._pending.popleft()
            wait_for -= 1
            self._journal(job.line | {"max_prob": job.future.result()})
            if self._on_written is not None:
                self._on_written(job.set_name, job.name)
