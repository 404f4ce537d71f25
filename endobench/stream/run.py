"""``endobench stream``: a video, a frame folder or a camera through a model, in real time.

:func:`run_stream` opens the source and the model, runs :class:`~endobench.stream.pipeline.
StreamPipeline` into :class:`~endobench.stream.outputs.StreamOutputs` and writes the summary:
the figures of :func:`~endobench.stream.summary.stream_figures` and the facts of the run (model,
weights sha256, backend, device, threads, temporal filter, source, machine load, environment).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError
from endobench.stream.engine import choose_filter, open_predictor, torch_threads
from endobench.stream.summary import LABELS, SCHEMA, stream_figures
from endobench.stream.temporal import FilterParams

#: Frames per forward pass at most on an accelerator (the CPU takes one at a time: lowest latency).
ACCELERATOR_BATCH = 8
#: Threads shrinking frames for the network on an accelerator (one on the CPU).
ACCELERATOR_PREPARE_WORKERS = 4


@dataclass
class StreamSettings:
    """What to stream and how (the command line's options).

    Attributes:
        source: A video file, a frame folder, or a camera index.
        model: Registered model name (None: the ``.onnx`` file's, else ``brp_lite_post``).
        weights: Checkpoint or exported ``.onnx`` file (None: the packaged weights).
        out: Output folder (None: ``submissions/stream-<source name>``).
        label: ``"negative"`` (known polyp-free), ``"positive"`` (shows a polyp) or None.
        fps: Frame rate of a folder (default 25), or of a video that reports none.
        device: ``auto``, ``cpu``, ``cuda[:N]``, ``mps``.
        threads: CPU threads of the forward pass (None: torch's default).
        temporal_filter: (k, n, m) replacing the weights' own.
        batch_size: Frames per forward pass at most (None: 1 on the CPU, 8 on an accelerator).
        overlay_scale: Size of the overlay video against the source's, in (0, 1]: encoding the
            overlay is the costliest step after the network (OpenCV's mp4v encoder runs on one
            core); 0.5 encodes a quarter of the pixels.
        queue_size: Frames each queue of the pipeline holds at most.
        force: Replace an earlier stream's outputs in ``out``.
        progress: Show the live progress line.
        backend: ``auto`` (the fastest backend verified to give eager fp32's masks, when
            ``select_backend`` is given), ``torch`` or ``onnxruntime``.
        select_backend: The fast-path choice
            (:func:`endobench.export.fast_backend.select_fast_backend`, passed in by the command
            as for ``run``); None keeps the predictor's own backend.
    """

    source: str
    model: str | None = None
    weights: str | None = None
    out: Path | None = None
    label: str | None = None
    fps: float | None = None
    device: str = "auto"
    threads: int | None = None
    temporal_filter: FilterParams | None = None
    batch_size: int | None = None
    overlay_scale: float = 1.0
    queue_size: int = 2
    force: bool = False
    progress: bool = True
    backend: str = "auto"
    select_backend: Callable[..., Any] | None = None


def default_out(source_name: str) -> Path:
    """``submissions/stream-<source name>``."""
    return Path("submissions") / f"stream-{source_name}"


def run_stream(settings: StreamSettings) -> tuple[dict[str, Any], Path]:
    """Stream a source through a model and write ``overlay.mp4``, ``frames.csv``, ``summary.json``.

    Returns:
        The summary and the output folder. ``summary["interrupted"]`` is True after a Ctrl-C (the
        frames until then were finalised).

    Raises:
        EndobenchError: A source that cannot be read, a folder without frames, options out of
            range, existing outputs without ``force``, a disk that refuses the outputs (then none
            is left behind).
    """
    from endobench.stream.analysis import FrameAnalyser
    from endobench.stream.live import StreamProgress
    from endobench.stream.outputs import StreamOutputs, check_out_dir
    from endobench.stream.pipeline import StreamPipeline
    from endobench.stream.source import open_source

    if settings.label is not None and settings.label not in LABELS:
        raise ConfigError(f"label {settings.label!r}: use one of {', '.join(LABELS)} or none")
    if not 0 < settings.overlay_scale <= 1:
        raise ConfigError(f"--overlay-scale {settings.overlay_scale}: give a scale in (0, 1]")
    if settings.out is not None:  # checked before the source opens
        check_out_dir(Path(settings.out), settings.force)
    source = open_source(settings.source, settings.fps)
    try:
        out = Path(settings.out) if settings.out is not None else default_out(source.name)
        if settings.out is None:  # the default folder is named after the source
            check_out_dir(out, settings.force)
        with torch_threads(settings.threads):
            predictor, batch, backend_choice = _open_model(settings)
            analyser = FrameAnalyser(predictor)
            choice = choose_filter(settings.temporal_filter, predictor.config)
            _warm_up(analyser, batch)
            load_start = _load()
            progress = StreamProgress(
                source.name, source.expected_frames, source.fps, settings.progress
            )
            overlay = overlay_size(source.width, source.height, settings.overlay_scale)
            with StreamOutputs(out, source.fps, *overlay) as outputs:
                with progress:
                    result = StreamPipeline(
                        source, analyser, outputs, choice.params,
                        batch_size=batch, queue_size=settings.queue_size,
                        prepare_workers=_prepare_workers(predictor), overlay_size=overlay,
                        on_frame=progress.update,
                    ).run()  # fmt: skip
                summary = _summary(settings, source, predictor, choice, result, batch, load_start)
                summary["overlay"] = {"width": overlay[0], "height": overlay[1]}
                summary["backend_choice"] = backend_choice
                outputs.finish(summary)
    finally:
        source.close()
    return summary, out


def overlay_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(W, H) of the overlay video: the source's times ``scale``, even (the encoder's rule)."""
    if scale == 1:
        return width, height
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)


def _open_model(settings: StreamSettings):
    if settings.batch_size is not None and settings.batch_size < 1:
        raise ConfigError(f"--batch {settings.batch_size}: give at least 1")
    predictor = open_predictor(
        settings.model, settings.weights, settings.device, 1, backend=settings.backend
    )
    choice = None
    if settings.select_backend is not None:
        selection = settings.select_backend(
            predictor, requested=settings.backend, progress=settings.progress
        )
        predictor, choice = selection.predictor, selection.record()
    batch = settings.batch_size or (1 if predictor.device.type == "cpu" else ACCELERATOR_BATCH)
    predictor.batch_size = batch
    return predictor, batch, choice


def _prepare_workers(predictor) -> int:
    return 1 if predictor.device.type == "cpu" else ACCELERATOR_PREPARE_WORKERS


def _warm_up(analyser, batch: int) -> None:
    """Run the network before the clock starts (ONNX Runtime's and cuDNN's first passes)."""
    import numpy as np

    for size in sorted({1, batch}):
        analyser.infer(np.zeros((size, 3, analyser.size, analyser.size), dtype=np.float32))


def _load() -> list[float] | None:
    from endobench.runner.conditions import load_average

    return load_average()


def _summary(settings, source, predictor, choice, result, batch, load_start) -> dict[str, Any]:
    import torch

    from endobench.env import environment
    from endobench.runner.conditions import cpu_ranges, usable_cores

    figures = stream_figures(result.records, source.fps, result.wall_s, settings.label)
    device = predictor.device
    return {
        "schema": SCHEMA,
        **figures,
        "temporal_filter": choice.to_dict(),
        "interrupted": result.interrupted,
        "corrupt_frames": len(source.corrupt),
        "corrupt_frame_positions": list(source.corrupt[:100]),
        "source": {
            "path": str(settings.source),
            "kind": source.kind,
            "name": source.name,
            "width": source.width,
            "height": source.height,
            "fps": source.fps,
            "frames_announced": source.expected_frames,
        },  # fmt: skip
        "model": predictor.model_name,
        "weights_sha256": predictor.weights_sha256,
        "weights": str(settings.weights) if settings.weights else "packaged",
        "postprocess": predictor.postprocess_params,
        "input_size": predictor.input_size,
        "backend": predictor.backend,
        "precision": predictor.precision,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "batch_size": batch,
        "conditions": {
            "load_start": load_start,
            "load_end": _load(),
            "cpu_affinity": cpu_ranges(usable_cores()),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": environment(),
    }
