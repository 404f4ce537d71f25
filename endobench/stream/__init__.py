"""``endobench stream``: real-time polyp segmentation of colonoscopy video (docs/stream.md).

source.py (video file, frame folder, camera) -> pipeline.py (decode / infer / write overlap) with
analysis.py (a frame through the model, the overlay), temporal.py (the k-of-n alarm filter),
outputs.py (overlay.mp4, frames.csv, summary.json), summary.py (the figures), run.py (the command's
library function), engine.py (the predictor and its filter), compare.py (summaries side by side).
"""

from endobench.stream.temporal import DEFAULT_FILTER, FilterParams, TemporalFilter, apply_filter

__all__ = ["DEFAULT_FILTER", "FilterParams", "TemporalFilter", "apply_filter"]
