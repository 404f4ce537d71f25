"""Rich progress bars for training: decoding, and each epoch with its running loss and images/s."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator


class EpochProgress:
    """One rich progress display for a whole run; disabled ones do nothing (other ranks, tests).

    When the output is not a terminal (a log file under ``nohup``), a bar cannot redraw, so an
    epoch prints a plain status line every ``log_every_s`` seconds instead.
    """

    def __init__(self, enabled: bool = True, log_every_s: float = 60.0):
        self.enabled = enabled
        self.log_every_s = log_every_s
        self._progress = None

    def _display(self):
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._progress.start()
        return self._progress

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A bar for a plain job; yields ``advance(n)``."""
        if not self.enabled:
            yield lambda n: None
            return
        progress = self._display()
        task_id = progress.add_task(description, total=total, stats="")
        try:
            yield lambda n: progress.advance(task_id, n)
        finally:
            progress.remove_task(task_id)

    @contextlib.contextmanager
    def epoch(self, description: str, total: int) -> Iterator[Callable[..., None]]:
        """A bar for an epoch; yields ``advance(n, loss=...)`` and shows loss and images/s."""
        if not self.enabled:
            yield lambda n, loss=None: None
            return
        progress = self._display()
        task_id = progress.add_task(description, total=total, stats="")
        start = last_line = time.perf_counter()
        done = counted = 0
        plain = not progress.console.is_terminal

        def advance(n: int, loss: float | None = None) -> None:
            nonlocal done, counted, last_line, start
            done += n
            now = time.perf_counter()
            if loss is None:  # images a resumed epoch had already trained: not part of the rate
                start = now
            else:
                counted += n
            rate = counted / max(now - start, 1e-9)
            stats = f"loss {loss:.4f}  {rate:.2f} img/s" if loss is not None else ""
            progress.update(task_id, advance=n, stats=stats)
            if plain and loss is not None and now - last_line >= self.log_every_s:
                last_line = now
                progress.console.print(
                    f"{description}: {done}/{total} images, {stats}", soft_wrap=True
                )

        try:
            yield advance
        finally:
            progress.remove_task(task_id)

    def log(self, message: str) -> None:
        """Print a line above the bars (nothing when disabled)."""
        if self.enabled:
            self._display().console.print(message)

    def close(self) -> None:
        """Stop the display."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
