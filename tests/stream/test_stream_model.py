"""The real model (brp_lite_post, packaged weights) over short videos: the bundled sample, and
PolypGen's polyp-free 1080p sequences where ../shared/data holds them."""

from __future__ import annotations

import csv
import json
import shutil

import cv2
import pytest
from stream_helpers import count_video_frames, sample_frames, write_video

from endobench.cli import app
from endobench.stream.source import frame_order

SUMMARY_KEYS = {
    "frames", "duration_s", "fps_source", "fps_end_to_end", "latency_ms", "alarms",
    "alarm_frames", "flicker_per_100", "temporal_filter", "model", "weights_sha256", "backend",
    "device", "environment",
}  # fmt: skip
NEGATIVES = "PolypGen-negatives/sequenceData/negativeOnly"


def _stream(*args):
    from typer.testing import CliRunner

    return CliRunner().invoke(app, ["stream", *map(str, args), "--threads", "1", "--quiet"])


def _check_outputs(out, frames: int, fps: float) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["frames"] == frames and summary["fps_source"] == fps
    with open(out / "frames.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == frames
    assert count_video_frames(out / "overlay.mp4") == (frames, fps)
    assert summary["model"] == "brp_lite_post" and len(summary["weights_sha256"]) == 64
    return summary


def test_sample_video_through_the_default_model(tmp_path, sample_root):
    video = write_video(tmp_path / "sample.mp4", sample_frames(sample_root, 10), fps=25)
    result = _stream(video, "--out", tmp_path / "out", "--positive", "--device", "cpu")
    assert result.exit_code == 0, result.output
    summary = _check_outputs(tmp_path / "out", 10, 25.0)
    # every bundled frame shows a polyp: the packaged weights find them
    assert summary["raw_frames"] >= 8 and summary["detected"] is True
    assert summary["device"] == "cpu"
    # the default backend is run's fast path: the verified, faster of the two, with its reason
    choice = summary["backend_choice"]
    assert summary["backend"] == choice["backend"] in ("torch", "onnxruntime") and choice["reason"]
    assert "10 frames at" in result.stdout


def test_backend_torch_keeps_eager_pytorch(tmp_path, sample_root):
    video = write_video(tmp_path / "sample.mp4", sample_frames(sample_root, 3), fps=25)
    result = _stream(video, "--out", tmp_path / "out", "--backend", "torch", "--device", "cpu")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["backend"] == "torch" == summary["backend_choice"]["backend"]
    assert "--backend torch" in summary["backend_choice"]["reason"]


@pytest.mark.shared("PolypGen-negatives")
def test_polypgen_negative_sequence_as_video_and_as_folder(tmp_path, shared_data):
    sequences = sorted(p for p in (shared_data / NEGATIVES).iterdir() if p.is_dir())
    files = sorted(sequences[0].glob("*.jpg"), key=frame_order)[:8]
    folder = tmp_path / sequences[0].name
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    video = write_video(tmp_path / "seq.mp4", [cv2.imread(str(p)) for p in files], fps=25)
    for source, out in ((video, "video-out"), (folder, "folder-out")):
        result = _stream(source, "--out", tmp_path / out, "--negative", "--device", "cpu")
        assert result.exit_code == 0, result.output
        summary = _check_outputs(tmp_path / out, 8, 25.0)
        assert summary["source"]["height"] == cv2.imread(str(files[0])).shape[0]
        assert summary["false_alarms_per_minute"] is not None
