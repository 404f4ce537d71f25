"""`endobench stream` on bad input: one line, exit status 2, nothing half-written left behind."""

from __future__ import annotations

import errno

import cv2
import numpy as np
import pytest
from fault_helpers import assert_ok, assert_one_line_error, invoke, leftovers, snapshot


def _video(tmp_path, frames: int = 6):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (160, 96))
    for i in range(frames):
        writer.write(np.full((96, 160, 3), 20 * i, np.uint8))
    writer.release()
    return path


def _stream(source, out, *extra):
    return invoke("stream", source, "--out", out, "--device", "cpu", "--threads", "1", "--quiet",
                  *extra)  # fmt: skip


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: (p / "a.mp4").write_text("not a video") and p / "a.mp4", ["a.mp4", "video"]),
        (lambda p: (p / "e.mp4").write_bytes(b"") and None or p / "e.mp4", ["e.mp4", "empty"]),
        (lambda p: (p / "frames").mkdir() or p / "frames", ["frames", "no frames"]),
        (lambda p: p / "nowhere.mkv", ["nowhere.mkv", "no such video"]),
    ],
)
def test_unreadable_sources(tmp_path, make, words):
    out = tmp_path / "out"
    assert_one_line_error(_stream(make(tmp_path), out), *words)
    assert snapshot(out) == {}


def test_contradicting_options(tmp_path):
    video = _video(tmp_path)
    assert_one_line_error(_stream(video, tmp_path / "o", "--negative", "--positive"), "--negative")
    assert_one_line_error(_stream(video, tmp_path / "o", "--filter", "5,3,1"), "K <= N")
    assert snapshot(tmp_path / "o") == {}


def test_earlier_outputs_are_not_overwritten(tmp_path):
    video, out = _video(tmp_path), tmp_path / "out"
    assert_ok(_stream(video, out))
    before = snapshot(out)
    assert_one_line_error(_stream(video, out), "--force", "summary.json")
    assert snapshot(out) == before
    assert_ok(_stream(video, out, "--force"))


def test_a_write_that_fails_mid_stream_leaves_nothing(tmp_path, monkeypatch):
    from endobench.stream import outputs

    write = outputs.StreamOutputs.write

    def disk_full_at_frame_3(self, frame, record):
        if self.frames_written == 3:
            raise outputs.output_error(OSError(errno.ENOSPC, "full"), self.out / "frames.csv")
        write(self, frame, record)

    monkeypatch.setattr(outputs.StreamOutputs, "write", disk_full_at_frame_3)
    out = tmp_path / "out"
    assert_one_line_error(_stream(_video(tmp_path), out), "frames.csv", "no space left")
    assert snapshot(out) == {} and leftovers(tmp_path) == []


def test_a_really_full_disk(tmp_path, small_disk):
    disk, _ = small_disk
    line = assert_one_line_error(_stream(_video(tmp_path), disk / "out"))
    assert "no space left" in line and str(disk) in line
    assert snapshot(disk) == {}
