"""Sources: frame order, video rates, damaged frames, and the one-line refusals."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from stream_helpers import write_video

from endobench.errors import ConfigError, DataError
from endobench.stream.source import frame_order, open_source


def _grey_frames(count: int) -> list[np.ndarray]:
    return [np.full((96, 160, 3), 10 * i, np.uint8) for i in range(count)]


def test_frame_order_is_numeric():
    names = ["seq2_img10.jpg", "seq2_img9.jpg", "seq10_img1.jpg", "seq2_img100.jpg"]
    ordered = sorted((Path(n) for n in names), key=frame_order)
    assert [p.name for p in ordered] == [
        "seq2_img9.jpg", "seq2_img10.jpg", "seq2_img100.jpg", "seq10_img1.jpg",
    ]  # fmt: skip


def test_video_reports_its_rate_and_frames(tmp_path):
    video = write_video(tmp_path / "v.mp4", _grey_frames(7), fps=30)
    source = open_source(video)
    frames = list(source.frames())
    source.close()
    assert (source.kind, source.fps, source.expected_frames) == ("video", 30.0, 7)
    assert [i for i, _ in frames] == list(range(7))
    assert (source.width, source.height) == (160, 96)


def test_damaged_frame_in_the_middle_is_counted_and_skipped(tmp_path):
    video = write_video(tmp_path / "v.avi", _grey_frames(12), fps=25, fourcc="MJPG")
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    middle = (starts[6] + starts[7]) // 2
    data[middle : middle + 20] = b"\xff" * 20  # a broken Huffman stream in frame 6 only
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(bytes(data))
    source = open_source(damaged)
    frames = list(source.frames())
    assert source.corrupt == [6]
    assert [i for i, f in frames if f is not None] == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11]
    # frame 7 is frame 7's picture: positions after the damage are not shifted
    assert abs(float(frames[7][1].mean()) - 70) < 5


def test_folder_frame_that_cannot_be_decoded_is_skipped(tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((40, 60, 3), 50, np.uint8))
    (tmp_path / "f2.png").write_bytes(b"not a png")
    source = open_source(tmp_path, fps=12)
    frames = list(source.frames())
    assert source.corrupt == [2] and [f is None for _, f in frames] == [False, False, True, False]
    assert source.fps == 12.0


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p / "missing.mp4", "no such video file or frame folder"),
        (lambda p: (p / "empty.mp4").write_bytes(b"") and None or p / "empty.mp4", "empty"),
        (lambda p: (p / "text.mp4").write_text("hello") and p / "text.mp4", "cannot read it"),
        (lambda p: (p / "frames").mkdir() or p / "frames", "no frames in the folder"),
    ],
)
def test_bad_sources_are_one_line_data_errors(tmp_path, make, words):
    with pytest.raises(DataError, match=words) as info:
        open_source(make(tmp_path))
    assert "\n" not in str(info.value)


def test_folder_whose_frames_all_fail(tmp_path):
    (tmp_path / "a1.jpg").write_bytes(b"junk")
    with pytest.raises(DataError, match="none of its 1 frames"):
        open_source(tmp_path)


def test_rate_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="positive frame rate"):
        open_source(tmp_path, fps=0)


def test_camera_that_does_not_open():
    with pytest.raises(DataError, match="camera 97 does not open"):
        open_source("97")
