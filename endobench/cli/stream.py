"""``endobench stream``: real-time segmentation of a video (thin; see endobench.stream)."""

from __future__ import annotations

from pathlib import Path

import typer

from endobench.cli.options import Device

#: Exit status after Ctrl-C (128 + SIGINT), with the outputs finalised.
INTERRUPTED_STATUS = 130


def stream(
    source: str = typer.Argument(
        ..., help="Video file (mp4, avi, mkv, mov), folder of frames, or camera index (0, 1 ...)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Registered model name (default brp_lite_post; not needed with --weights F.onnx).",
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        "-w",
        help="Checkpoint or exported .onnx file (ONNX Runtime, fastest on a CPU); default: the "
        "packaged weights.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default submissions/stream-<source name>)."
    ),
    negative: bool = typer.Option(
        False, "--negative", help="The video is known polyp-free: report false alarms per minute."
    ),
    positive: bool = typer.Option(
        False, "--positive", help="The video shows a polyp: report time to first detection."
    ),
    fps: float | None = typer.Option(
        None, "--fps", help="Frame rate of a frame folder (default 25), or of a video without one."
    ),
    device: Device = "auto",
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="CPU threads of the forward pass (default: torch's)."
    ),
    temporal_filter: str | None = typer.Option(
        None,
        "--filter",
        help="Temporal filter K,N,M: alarm when K of the last N frames are positive, ended by M "
        "clear frames (default: the weights' calibrated filter, else 3,5,5).",
    ),
    batch: int | None = typer.Option(
        None,
        "--batch",
        min=1,
        help="Frames per forward pass at most (default 1 on the CPU, 8 on a GPU).",
    ),
    overlay_scale: float = typer.Option(
        1.0,
        "--overlay-scale",
        help="Size of overlay.mp4 against the source, in (0, 1]: 0.5 encodes a quarter of the "
        "pixels (the encoder runs on one core).",
    ),
    backend: str = typer.Option(
        "auto",
        "--backend",
        help="auto (fastest backend verified to give eager fp32's masks), torch or onnxruntime.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an earlier stream's outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live progress line."),
) -> None:
    """Segment every frame of a video in real time: overlay.mp4, frames.csv and summary.json."""
    from endobench.errors import ConfigError
    from endobench.export.fast_backend import select_fast_backend
    from endobench.stream.run import StreamSettings, run_stream
    from endobench.stream.temporal import FilterParams

    if negative and positive:
        raise ConfigError("--negative and --positive exclude each other; give one or neither")
    settings = StreamSettings(
        source=source,
        model=model,
        weights=weights,
        out=out,
        label="negative" if negative else "positive" if positive else None,
        fps=fps,
        device=device,
        threads=threads,
        temporal_filter=FilterParams.parse(temporal_filter) if temporal_filter else None,
        batch_size=batch,
        overlay_scale=overlay_scale,
        force=force,
        progress=not quiet,
        backend=backend,
        select_backend=select_fast_backend,
    )
    summary, folder = run_stream(settings)
    typer.echo(_result_line(summary, folder))
    if summary["interrupted"]:
        typer.echo("interrupted: the frames until Ctrl-C were finalised", err=True)
        raise typer.Exit(INTERRUPTED_STATUS)


def _result_line(summary: dict, folder: Path) -> str:
    from endobench.wording import counted

    latency = summary["latency_ms"]["p50"]
    parts = [
        f"{counted(summary['frames'], 'frame')} at {summary['fps_end_to_end']:g} fps "
        f"(source {summary['fps_source']:g}{'' if summary['keeps_up'] else ', not kept up'})",
        f"latency p50 {latency:g} ms" if latency is not None else "",
        f"{counted(summary['alarms'], 'alarm')}",
        f"flicker {summary['flicker_per_100']:g}/100 frames",
    ]
    if "false_alarms_per_minute" in summary:
        parts.append(f"{summary['false_alarms_per_minute']} false alarms/min")
    if "time_to_first_detection_s" in summary:
        first = summary["time_to_first_detection_s"]
        parts.append("not detected" if first is None else f"first detection at {first:g} s")
    if summary["corrupt_frames"]:
        parts.append(f"{counted(summary['corrupt_frames'], 'corrupt frame')} skipped")
    return "; ".join(p for p in parts if p) + f"\nwrote {folder}"


def register(app: typer.Typer) -> None:
    """Add ``stream`` to the root app."""
    app.command("stream")(stream)
