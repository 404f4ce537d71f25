"""The live progress line of a stream: frames, frames/s, latency and alarms, on stderr."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from endobench.stream.summary import FrameRecord

#: Frames the running latency median is taken over.
LATENCY_WINDOW = 50


class StreamProgress:
    """A rich progress line updated once a frame (a no-op when disabled).

    Args:
        name: The source's name.
        total: Frames expected (None for a camera).
        fps_source: The source's rate, shown beside the achieved one.
        enabled: Draw it.
    """

    def __init__(self, name: str, total: int | None, fps_source: float, enabled: bool = True):
        self.name, self.total, self.fps_source = name, total, fps_source
        self.enabled = enabled
        self.frames = self.alarms = 0
        self._was_on = False
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._progress: Any = None
        self._task = None
        self._start = 0.0

    def __enter__(self) -> StreamProgress:
        self._start = time.perf_counter()
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[line]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(
            f"stream {self.name}", total=self.total, line=self._line()
        )
        return self

    def update(self, record: FrameRecord) -> None:
        """Count one written frame."""
        self.frames += 1
        self._latencies.append(record.latency_ms)
        if record.polyp and not self._was_on:
            self.alarms += 1
        self._was_on = record.polyp
        if self._progress is not None:
            self._progress.update(self._task, advance=1, line=self._line())

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._start
        fps = self.frames / elapsed if elapsed > 0 and self.frames else 0.0
        latency = sorted(self._latencies)[len(self._latencies) // 2] if self._latencies else 0.0
        alarm = "  ALARM" if self._was_on else ""
        return (
            f"{fps:5.1f} fps (source {self.fps_source:g})  latency {latency:5.0f} ms  "
            f"alarms {self.alarms}{alarm}"
        )

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
