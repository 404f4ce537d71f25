"""The stream's speed on a device: a synthetic 1080p video through `endobench stream`.

``python -m endobench.stream.probe --device cuda`` prints one JSON; ``make gpu-check`` records the
same probe under ``stream`` in ``docs/gpu-check.json``. The video (mp4v, 25 frames/s, 1920 x 1080)
is made from the bundled Kvasir-SEG sample: each image held for 10 frames while the view pans by
8 pixels a frame, so the encoder and decoder see motion rather than repeated frames. The stream
runs the default model with every output written, at full overlay size and at half.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

#: Issue 22's target on a GPU: frames per second end to end on 1080p input.
GPU_TARGET_FPS = 200.0
SIZE = (1920, 1080)


def synthetic_video(path: Path, frames: int, fps: float = 25.0) -> Path:
    """Write a 1080p mp4 of ``frames`` frames panning over the bundled sample images."""
    import cv2
    import numpy as np

    from endobench.data import read_image
    from endobench.data.sample import sample_root

    images = sorted((sample_root() / "kvasir" / "images").glob("*.jpg"))
    width, height = SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    wide = None
    for i in range(frames):
        if i % 10 == 0:
            rgb = read_image(images[(i // 10) % len(images)])
            wide = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (width + 80, height))
        shift = (i % 10) * 8
        writer.write(np.ascontiguousarray(wide[:, shift : shift + width]))
    writer.release()
    return path


def stream_probe(device: str = "cuda", frames: int = 600, batch: int | None = None) -> dict:
    """Stream a synthetic 1080p video on ``device`` at full and half overlay size.

    Returns:
        ``{"status", "frames", "input", "runs": [{overlay_scale, fps_end_to_end, latency_ms,
        backend, device, batch_size, keeps_up}], "target": {rule, fps, met}, "seconds"}``; the
        target's figure is the full-size run's.
    """
    from endobench.stream.run import StreamSettings, run_stream

    began = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="endobench-stream-probe-") as folder:
        video = synthetic_video(Path(folder) / "synthetic-1080p.mp4", frames)
        for scale in (1.0, 0.5):
            summary, _ = run_stream(
                StreamSettings(
                    str(video), device=device, out=Path(folder) / f"out-{scale:g}",
                    batch_size=batch, overlay_scale=scale, progress=False,
                )
            )  # fmt: skip
            runs.append(
                {
                    "overlay_scale": scale,
                    "frames": summary["frames"],
                    "fps_end_to_end": summary["fps_end_to_end"],
                    "latency_ms": summary["latency_ms"],
                    "keeps_up": summary["keeps_up"],
                    "model": summary["model"],
                    "backend": summary["backend"],
                    "device": summary["device"],
                    "device_name": summary["device_name"],
                    "batch_size": summary["batch_size"],
                }
            )
    fps = runs[0]["fps_end_to_end"]
    return {
        "status": "ok",
        "frames": frames,
        "input": "synthetic 1920x1080 mp4v at 25 frames/s from the bundled sample",
        "runs": runs,
        "target": {
            "rule": f"fps_end_to_end >= {GPU_TARGET_FPS:g} on 1080p input, full-size overlay",
            "fps": fps,
            "met": fps >= GPU_TARGET_FPS if device != "cpu" else None,
        },
        "seconds": round(time.perf_counter() - began, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the probe's JSON (``--device cuda``, ``--frames 600``, ``--batch``)."""
    parser = argparse.ArgumentParser(prog="python -m endobench.stream.probe")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(stream_probe(args.device, args.frames, args.batch), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
