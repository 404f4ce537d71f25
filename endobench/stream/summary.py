"""What a stream's frames add up to: one row a frame (``frames.csv``) and the figures of
``summary.json``. Torch-free, so tests compute them from a scripted sequence of decisions.

Definitions (docs/stream.md):

- ``duration_s``: processed frames / the source's frame rate (the video's own time);
- ``fps_end_to_end``: processed frames / wall-clock seconds from the first frame read to the last
  frame written; ``keeps_up``: whether that is at least the source's rate;
- ``latency_ms``: per frame, from the frame decoded to its overlay frame handed to the encoder
  (queue waits included); percentiles by linear interpolation (numpy's default);
- ``alarms``: alarm episodes of the temporal filter; ``alarm_frames``: frames with the alarm on;
- ``flicker_per_100``: changes of the raw decision between consecutive frames, per 100 frames;
- ``--negative`` (the sequence shows no polyp): ``false_alarms_per_minute`` = alarms / minutes;
- ``--positive`` (it shows one): ``detected`` (any alarm) and ``time_to_first_detection_s``, the
  first alarm frame's time from the first frame's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from endobench.stream.temporal import changes, episodes

#: Columns of ``frames.csv``, in order.
CSV_COLUMNS = (
    "frame", "time_s", "polyp", "raw_polyp", "max_prob", "area_pct",
    "x", "y", "w", "h", "latency_ms",
)  # fmt: skip
SCHEMA = "endobench.stream/1"
LABELS = ("negative", "positive")


@dataclass(frozen=True)
class FrameRecord:
    """One processed frame.

    Attributes:
        frame: The frame's position in the source (0-based; skipped corrupt frames keep theirs).
        time_s: ``frame`` / the source's frame rate.
        polyp: The temporal filter's alarm.
        raw_polyp: The post-processed mask has a foreground pixel.
        max_prob: The largest probability of the map.
        area_pct: Foreground share of the frame, in percent.
        box: ``(x, y, w, h)`` of the largest region in frame pixels, or None.
        latency_ms: Decoded to written.
    """

    frame: int
    time_s: float
    polyp: bool
    raw_polyp: bool
    max_prob: float
    area_pct: float
    box: tuple[int, int, int, int] | None
    latency_ms: float

    def csv_row(self) -> list[str]:
        """The row of ``frames.csv``."""
        box = [str(v) for v in self.box] if self.box else ["", "", "", ""]
        return [
            str(self.frame), f"{self.time_s:.3f}", str(int(self.polyp)), str(int(self.raw_polyp)),
            f"{self.max_prob:.4f}", f"{self.area_pct:.3f}", *box, f"{self.latency_ms:.1f}",
        ]  # fmt: skip


def csv_header() -> str:
    """The header line of ``frames.csv`` (with its newline)."""
    return csv_line(list(CSV_COLUMNS))


def csv_line(values: Sequence[str]) -> str:
    """One CSV line (with its newline)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def latency_percentiles(latencies: Sequence[float]) -> dict[str, float | None]:
    """``{"p50", "p90", "p99"}`` of per-frame latencies in ms (None without frames)."""
    if not latencies:
        return {"p50": None, "p90": None, "p99": None}
    values = np.percentile(np.asarray(latencies, dtype=np.float64), [50, 90, 99])
    return {key: round(float(v), 2) for key, v in zip(("p50", "p90", "p99"), values, strict=True)}


def stream_figures(
    records: Sequence[FrameRecord],
    fps_source: float,
    wall_s: float,
    label: str | None = None,
) -> dict[str, Any]:
    """The figures of ``summary.json`` that the frames decide (see the module docstring).

    Args:
        records: The processed frames, in order.
        fps_source: The source's frame rate.
        wall_s: Wall-clock seconds from the first frame read to the last written.
        label: ``"negative"``, ``"positive"`` or None (unknown content).

    Returns:
        ``frames, duration_s, fps_source, fps_end_to_end, keeps_up, latency_ms, alarms,
        alarm_episodes, alarm_frames, raw_frames, flicker_per_100`` and the label's figures.
    """
    frames = len(records)
    alarm = [r.polyp for r in records]
    spans = episodes(alarm)
    duration = frames / fps_source if fps_source > 0 else 0.0
    fps = frames / wall_s if wall_s > 0 else 0.0
    out: dict[str, Any] = {
        "frames": frames,
        "duration_s": round(duration, 3),
        "fps_source": round(float(fps_source), 3),
        "fps_end_to_end": round(fps, 2),
        "keeps_up": bool(frames) and fps >= fps_source,
        "latency_ms": latency_percentiles([r.latency_ms for r in records]),
        "alarms": len(spans),
        "alarm_episodes": [
            {
                "start_frame": records[a].frame,
                "end_frame": records[b].frame,
                "start_s": round(records[a].time_s, 3),
                "frames": b - a + 1,
            }
            for a, b in spans
        ],  # fmt: skip
        "alarm_frames": int(sum(alarm)),
        "raw_frames": int(sum(r.raw_polyp for r in records)),
        "flicker_per_100": round(100.0 * changes(r.raw_polyp for r in records) / frames, 3)
        if frames
        else 0.0,
        "label": label,
    }
    if label == "negative":
        minutes = duration / 60.0
        out["false_alarms_per_minute"] = round(len(spans) / minutes, 3) if minutes else None
    elif label == "positive":
        out["detected"] = bool(spans)
        out["time_to_first_detection_s"] = (
            round(records[spans[0][0]].time_s - records[0].time_s, 3) if spans else None
        )
    return out
