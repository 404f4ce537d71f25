"""The real-time pipeline: decode, infer and write overlap, joined by bounded queues.

```
reader thread     source.frames() -> decoded frame        (timestamped: latency starts here)
  prepare pool    FrameAnalyser.prepare_with_overlay: INTER_AREA shrink to the network's side,
                  normalise (and shrink the overlay's frame when --overlay-scale < 1)
inference thread  up to `batch` prepared frames at once -> probability maps
caller's thread   decide (post-processing), temporal filter, overlay, encoder + CSV row, progress
```

Every frame is inferred, in order; when the machine cannot keep up the queues fill and the reader
waits (a file) -- the summary's ``fps_end_to_end`` against ``fps_source`` says so. Ctrl-C on the
caller's thread stops the reader, and the frames written so far are finalised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from endobench.stream.analysis import FrameAnalyser, draw_overlay
from endobench.stream.outputs import StreamOutputs
from endobench.stream.source import FrameSource
from endobench.stream.summary import FrameRecord
from endobench.stream.temporal import FilterParams, TemporalFilter

_END = object()
_POLL_S = 0.05


@dataclass
class PipelineResult:
    """What the pipeline did: the frames in order, wall-clock seconds, and whether Ctrl-C ended it."""

    records: list[FrameRecord]
    wall_s: float
    interrupted: bool


class StreamPipeline:
    """One pass over a source (see the module docstring).

    Args:
        source: The opened source.
        analyser: The model's frame steps.
        outputs: The opened output folder.
        params: The temporal filter.
        batch_size: Frames per forward pass at most (what is ready is taken; none is waited for).
        queue_size: Frames each queue holds at most.
        prepare_workers: Threads shrinking and normalising frames.
        overlay_size: (W, H) of the overlay video (None: the source's).
        on_frame: Called with each written frame's record (the live progress line).
    """

    def __init__(
        self,
        source: FrameSource,
        analyser: FrameAnalyser,
        outputs: StreamOutputs,
        params: FilterParams,
        *,
        batch_size: int = 1,
        queue_size: int = 2,
        prepare_workers: int = 1,
        overlay_size: tuple[int, int] | None = None,
        on_frame: Callable[[FrameRecord], None] | None = None,
    ):
        self.source, self.analyser, self.outputs = source, analyser, outputs
        self.params = params
        self.batch_size = max(1, int(batch_size))
        self.prepare_workers = max(1, int(prepare_workers))
        self.overlay_size = overlay_size
        self.on_frame = on_frame or (lambda record: None)
        self._prepared: queue.Queue = queue.Queue(max(1, queue_size))
        self._inferred: queue.Queue = queue.Queue(max(1, queue_size))
        self._stop = threading.Event()
        self._errors: list[BaseException] = []

    def run(self) -> PipelineResult:
        """Process every frame; return the records (Ctrl-C: those written until then).

        Raises:
            Exception: The first error of any stage (the others are stopped first).
        """
        threads = [
            threading.Thread(target=self._read, name="stream-read", daemon=True),
            threading.Thread(target=self._infer, name="stream-infer", daemon=True),
        ]
        records: list[FrameRecord] = []
        interrupted = False
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        try:
            self._write(records)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()
        wall = time.perf_counter() - start
        if self._errors:
            raise self._errors[0]
        return PipelineResult(records, wall, interrupted)

    def _write(self, records: list[FrameRecord]) -> None:
        alarm_state = TemporalFilter(self.params)
        fps = self.source.fps
        while True:
            item = self._get(self._inferred)
            if item is _END:
                return
            position, shape, frame, prob, decoded_at = item
            decision = self.analyser.decide(prob, shape, frame.shape)
            alarm = alarm_state.step(decision.raw)
            draw_overlay(frame, decision, alarm)
            record = FrameRecord(
                frame=position,
                time_s=position / fps,
                polyp=alarm,
                raw_polyp=decision.raw,
                max_prob=decision.max_prob,
                area_pct=decision.area_pct,
                box=decision.box,
                latency_ms=(time.perf_counter() - decoded_at) * 1000.0,
            )
            self.outputs.write(frame, record)
            records.append(record)
            self.on_frame(record)

    def _read(self) -> None:
        try:
            with ThreadPoolExecutor(self.prepare_workers, "stream-prepare") as pool:
                for position, frame in self.source.frames():
                    if self._stop.is_set():
                        break
                    if frame is None:  # counted by the source, skipped here
                        continue
                    decoded_at = time.perf_counter()
                    job = pool.submit(self.analyser.prepare_with_overlay, frame, self.overlay_size)
                    if not self._put(self._prepared, (position, frame.shape, job, decoded_at)):
                        break
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            self._fail(err)
        finally:
            self._put(self._prepared, _END)

    def _infer(self) -> None:
        try:
            ended = False
            while not ended:
                item = self._get(self._prepared)
                if item is _END:
                    break
                items = [item]
                while len(items) < self.batch_size:
                    try:
                        more = self._prepared.get_nowait()
                    except queue.Empty:
                        break
                    if more is _END:
                        ended = True
                        break
                    items.append(more)
                prepared = [job.result() for _, _, job, _ in items]
                probs = self.analyser.infer(np.stack([x for x, _ in prepared]))
                for (position, shape, _, decoded_at), (_, shown), prob in zip(
                    items, prepared, probs, strict=True
                ):
                    if not self._put(self._inferred, (position, shape, shown, prob, decoded_at)):
                        return
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            self._fail(err)
        finally:
            self._put(self._inferred, _END)

    def _fail(self, err: BaseException) -> None:
        self._errors.append(err)
        self._stop.set()

    def _put(self, target: queue.Queue, item) -> bool:
        """Put ``item`` unless the pipeline stops first (then an end marker may be dropped)."""
        while True:
            try:
                target.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                if self._stop.is_set():
                    return False

    def _get(self, source: queue.Queue):
        """The next item, or the end marker once the pipeline stops (an error, Ctrl-C)."""
        while True:
            try:
                return source.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    return _END
