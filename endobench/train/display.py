"""What training shows on the terminal: rich bars across epochs, within an epoch (batches, with
the running loss and training images/s), for validation and for decoding, and announcements.

Only rank 0 displays; a disabled display (other ranks, tests) does nothing. When the output is
not a terminal (a log file under ``nohup``), a bar cannot redraw, so batch bars print a plain
status line every ``log_every_s`` seconds instead.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any


class TrainingDisplay:
    """One rich display for a whole invocation.

    Args:
        enabled: False shows nothing.
        log_every_s: Seconds between plain status lines when the output is not a terminal.
        console: The rich console to draw on (default: a new one on stdout).
    """

    def __init__(self, enabled: bool = True, log_every_s: float = 60.0, console: Any = None):
        self.enabled = enabled
        self.log_every_s = log_every_s
        self.console = console
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
                console=self.console,
                transient=True,
            )
            self._progress.start()
        return self._progress

    @contextlib.contextmanager
    def task(
        self, description: str, total: int, completed: int = 0
    ) -> Iterator[Callable[[int], None]]:
        """A bar for a plain job (decoding, epochs of a fold); yields ``advance(n)``.

        A job of no items shows no bar.
        """
        if not self.enabled or total == 0:
            yield lambda n=1: None
            return
        progress = self._display()
        task_id = progress.add_task(description, total=total, completed=completed, stats="")
        try:
            yield lambda n=1: progress.advance(task_id, n)
        finally:
            progress.remove_task(task_id)

    @contextlib.contextmanager
    def batches(self, description: str, total: int, done: int = 0) -> Iterator[Callable[..., None]]:
        """A bar over the batches of an epoch or a validation pass.

        Yields ``advance(images, loss=None)``, called once per batch: the bar moves by one batch
        and shows the running loss and the images per second since the bar started (batches
        ``done`` before, in an interrupted epoch, do not count).
        """
        if not self.enabled:
            yield lambda images, loss=None: None
            return
        progress = self._display()
        task_id = progress.add_task(description, total=total, completed=done, stats="")
        start = last_line = time.perf_counter()
        counted = 0
        plain = not progress.console.is_terminal

        def advance(images: int, loss: float | None = None) -> None:
            nonlocal counted, last_line
            counted += images
            now = time.perf_counter()
            rate = f"{counted / max(now - start, 1e-9):.2f} img/s"
            stats = f"loss {loss:.4f}  {rate}" if loss is not None else rate
            progress.update(task_id, advance=1, stats=stats)
            if plain and now - last_line >= self.log_every_s:
                last_line = now
                task = progress.tasks[progress.task_ids.index(task_id)]
                progress.console.print(
                    f"{description}: batch {int(task.completed)}/{total}, {stats}", soft_wrap=True
                )

        try:
            yield advance
        finally:
            progress.remove_task(task_id)

    def log(self, message: str) -> None:
        """Print a line above the bars (nothing when disabled)."""
        if self.enabled:
            self._display().console.print(message, soft_wrap=True, markup=False)

    def close(self) -> None:
        """Stop the display."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
