"""A scripted sequence of detections through the whole stream: CSV, overlay and summary figures
against a hand computation."""

from __future__ import annotations

import csv
import json

import pytest
from stream_helpers import count_video_frames, scripted_frames, write_video

from endobench.stream.run import StreamSettings, run_stream
from endobench.stream.summary import CSV_COLUMNS
from endobench.stream.temporal import FilterParams

# Raw decisions of 20 frames, and by hand with k=2 of n=3, ended by m=2 clear frames: on at
# frame 3 (the 2nd positive of frames 1-3), kept through the single clear frames 4 and 6, off on
# frame 12 (the 2nd clear frame in a row); frame 16's lone positive never reaches 2 of 3.
RAW = [0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0]
ALARM = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
FILTER = FilterParams(2, 3, 2)


def _rows(folder):
    with open(folder / "frames.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_scripted_video_gives_the_hand_computed_figures(tmp_path, scripted_model):
    video = write_video(tmp_path / "scripted.mp4", scripted_frames(RAW), fps=25)
    summary, out = run_stream(
        StreamSettings(str(video), out=tmp_path / "out", label="negative",
                       temporal_filter=FILTER, progress=False)
    )  # fmt: skip
    rows = _rows(out)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["frame"]) for r in rows] == list(range(20))
    assert [int(r["raw_polyp"]) for r in rows] == RAW
    assert [int(r["polyp"]) for r in rows] == ALARM
    assert [float(r["time_s"]) for r in rows] == pytest.approx([i / 25 for i in range(20)])
    white = rows[2]
    assert float(white["area_pct"]) == pytest.approx(100.0)
    assert (white["x"], white["y"], white["w"], white["h"]) == ("0", "0", "160", "96")
    assert rows[0]["x"] == "" and float(rows[0]["area_pct"]) == 0.0
    assert count_video_frames(out / "overlay.mp4") == (20, 25.0)

    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 20 and summary["duration_s"] == pytest.approx(0.8)
    assert summary["alarms"] == 1 and summary["alarm_frames"] == 9 and summary["raw_frames"] == 8
    assert summary["alarm_episodes"] == [
        {"start_frame": 3, "end_frame": 11, "start_s": 0.12, "frames": 9}
    ]
    # raw changes at frames 2, 4, 5, 6, 7, 11, 16, 17: 8 in 20 frames
    assert summary["flicker_per_100"] == pytest.approx(40.0)
    # one alarm in 0.8 s of polyp-free video: 75 a minute
    assert summary["false_alarms_per_minute"] == pytest.approx(75.0)
    assert summary["temporal_filter"] == {"k": 2, "n": 3, "m": 2, "source": "--filter"}
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
    assert summary["fps_end_to_end"] > 0 and summary["fps_source"] == 25.0
    assert summary["interrupted"] is False and summary["corrupt_frames"] == 0


def test_positive_label_times_the_first_detection(tmp_path, scripted_model):
    video = write_video(tmp_path / "scripted.mp4", scripted_frames(RAW), fps=25)
    summary, _ = run_stream(
        StreamSettings(str(video), out=tmp_path / "out", label="positive",
                       temporal_filter=FILTER, progress=False)
    )  # fmt: skip
    assert summary["detected"] is True
    assert summary["time_to_first_detection_s"] == pytest.approx(0.12)
    assert "false_alarms_per_minute" not in summary


def test_folder_in_numeric_order_at_the_given_rate(tmp_path, scripted_model):
    import cv2

    folder = tmp_path / "seq7_neg"
    folder.mkdir()
    for i, frame in enumerate(scripted_frames(RAW), start=1):
        cv2.imwrite(str(folder / f"seq7_img{i}.png"), frame)  # img10 after img9, not after img1
    summary, out = run_stream(
        StreamSettings(str(folder), out=tmp_path / "out", fps=10, temporal_filter=FILTER,
                       progress=False)
    )  # fmt: skip
    rows = _rows(out)
    assert [int(r["raw_polyp"]) for r in rows] == RAW
    assert [int(r["polyp"]) for r in rows] == ALARM
    assert float(rows[-1]["time_s"]) == pytest.approx(1.9)
    assert summary["duration_s"] == pytest.approx(2.0) and summary["fps_source"] == 10.0
    assert count_video_frames(out / "overlay.mp4") == (20, 10.0)
    assert summary["source"]["kind"] == "folder"


def test_ctrl_c_finalises_the_frames_written(tmp_path, scripted_model, monkeypatch):
    from endobench.stream.live import StreamProgress

    update = StreamProgress.update

    def interrupt_at_five(self, record):
        update(self, record)
        if self.frames == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(StreamProgress, "update", interrupt_at_five)
    video = write_video(tmp_path / "scripted.mp4", scripted_frames(RAW), fps=25)
    summary, out = run_stream(
        StreamSettings(str(video), out=tmp_path / "out", temporal_filter=FILTER, progress=False)
    )
    assert summary["interrupted"] is True and summary["frames"] == 5
    assert len(_rows(out)) == 5
    assert count_video_frames(out / "overlay.mp4")[0] == 5
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True
    assert sorted(p.name for p in out.iterdir()) == ["frames.csv", "overlay.mp4", "summary.json"]


def test_overlay_scale_shrinks_the_video_not_the_figures(tmp_path, scripted_model):
    import cv2

    from endobench.stream.run import overlay_size

    assert overlay_size(1920, 1080, 0.5) == (960, 540)
    assert overlay_size(1350, 1080, 0.3) == (404, 324)
    video = write_video(tmp_path / "scripted.mp4", scripted_frames(RAW), fps=25)
    summary, out = run_stream(
        StreamSettings(str(video), out=tmp_path / "out", temporal_filter=FILTER,
                       overlay_scale=0.5, progress=False)
    )  # fmt: skip
    capture = cv2.VideoCapture(str(out / "overlay.mp4"))
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape[:2] == (48, 80)
    assert summary["overlay"] == {"width": 80, "height": 48}
    assert count_video_frames(out / "overlay.mp4") == (20, 25.0)
    white = _rows(out)[2]
    assert (white["w"], white["h"]) == ("160", "96")  # boxes stay in source pixels
    assert [int(r["polyp"]) for r in _rows(out)] == ALARM


def test_cli_after_ctrl_c_exits_130_with_the_outputs_finalised(
    tmp_path, scripted_model, monkeypatch
):
    from typer.testing import CliRunner

    from endobench.cli import app
    from endobench.stream.live import StreamProgress

    def interrupt(self, record):
        raise KeyboardInterrupt

    monkeypatch.setattr(StreamProgress, "update", interrupt)
    video = write_video(tmp_path / "scripted.mp4", scripted_frames(RAW), fps=25)
    result = CliRunner().invoke(app, ["stream", str(video), "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.stderr and "1 frame at" in result.stdout
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["frames"] == 1
