"""Where a stream's frames come from: a video file, a folder of frames, or a camera.

- a **video file** (whatever OpenCV's FFmpeg reads: mp4, avi, mkv, mov): its own frame rate;
- a **folder of frames** (``.jpg``, ``.png`` ...), ordered by the numbers in their names
  (``seq17_img2.jpg`` before ``seq17_img10.jpg``), read by :func:`endobench.data.read_image`, at
  ``--fps`` (default 25);
- a **camera index** (``0``, ``1`` ...) for a live demonstration, at the rate it reports.

Frames are BGR uint8 arrays (OpenCV's order, the video writer's too). A frame that cannot be
decoded in the middle of a source is yielded as None and counted; the rest are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from endobench.errors import ConfigError, DataError

DEFAULT_FOLDER_FPS = 25.0
#: Decoding failures in a row after which a video is taken to have ended (a damaged tail).
MAX_FAILURES_IN_A_ROW = 25
VIDEO_HINT = "mp4, avi, mkv or mov"


def frame_order(path: Path) -> tuple:
    """Sort key of a frame file: the numbers in its name, in order, then the name."""
    return (tuple(int(n) for n in re.findall(r"\d+", path.stem)), path.name)


@dataclass
class FrameSource:
    """An opened source.

    Attributes:
        name: Short name (the file's or folder's stem, ``camera0``).
        kind: ``"video"``, ``"folder"`` or ``"camera"``.
        fps: Frames per second of the source.
        expected_frames: Frames the source announces (None for a camera).
        width: Frame width in pixels.
        height: Frame height in pixels.
        corrupt: Frames that could not be decoded so far (skipped).
    """

    name: str
    kind: str
    fps: float
    expected_frames: int | None
    width: int
    height: int
    corrupt: list[int] = field(default_factory=list)
    _capture: cv2.VideoCapture | None = field(default=None, repr=False)
    _files: list[Path] = field(default_factory=list, repr=False)
    _first: np.ndarray | None = field(default=None, repr=False)

    def frames(self) -> Iterator[tuple[int, np.ndarray | None]]:
        """Yield ``(position, BGR frame)`` in order; a frame that cannot be decoded is None."""
        if self.kind == "folder":
            yield from self._folder_frames()
        else:
            yield from self._capture_frames()

    def close(self) -> None:
        """Release the capture (a video or camera)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _folder_frames(self) -> Iterator[tuple[int, np.ndarray | None]]:
        from endobench.data import read_image

        for position, path in enumerate(self._files):
            try:
                frame = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2BGR)
            except DataError:
                frame = None
            if frame is not None and frame.shape[:2] != (self.height, self.width):
                frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
            if frame is None:
                self.corrupt.append(position)
            yield position, frame

    def _capture_frames(self) -> Iterator[tuple[int, np.ndarray | None]]:
        capture, position, failures = self._capture, 0, 0
        if self._first is not None:
            first, self._first = self._first, None
            yield 0, first
            position = 1
        while capture is not None:
            ok, frame = capture.read()
            if ok and frame is not None:
                # Failures followed by a good frame were damaged frames; at the end, the end.
                for _ in range(failures):
                    self.corrupt.append(position)
                    yield position, None
                    position += 1
                failures = 0
                yield position, frame
                position += 1
                continue
            if self.kind == "camera" or not self._more_expected(position + failures, failures):
                return
            failures += 1

    def _more_expected(self, position: int, failures: int) -> bool:
        """Whether a failed read is a damaged frame (more announced) rather than the end."""
        return (
            self.expected_frames is not None
            and position < self.expected_frames
            and failures < MAX_FAILURES_IN_A_ROW
        )


def open_source(source: str | Path, fps: float | None = None) -> FrameSource:
    """Open a video file, a folder of frames or a camera index.

    Args:
        source: The file, the folder, or a camera index (``"0"``).
        fps: Frame rate of a folder (default 25); for a video or camera, it replaces a rate the
            source does not report.

    Returns:
        The opened source (its first frame already decoded, so an empty video fails here).

    Raises:
        DataError: No such file or folder, a video OpenCV cannot open or without a decodable
            frame, a folder without frames, or a camera that does not open.
        ConfigError: ``fps`` is not positive.
    """
    if fps is not None and not fps > 0:
        raise ConfigError(f"--fps {fps}: give a positive frame rate, e.g. 25")
    text = str(source)
    if text.isdigit() and not Path(text).exists():
        return _open_capture(cv2.VideoCapture(int(text)), f"camera{text}", "camera", fps, text)
    path = Path(source)
    if path.is_dir():
        return _open_folder(path, fps)
    if not path.is_file():
        raise DataError(
            f"{path}: no such video file or frame folder; give a video ({VIDEO_HINT}), a folder "
            "of frames or a camera index"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; give a video file ({VIDEO_HINT})")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    return _open_capture(capture, path.stem, "video", fps, str(path))


def _open_capture(
    capture: cv2.VideoCapture, name: str, kind: str, fps: float | None, shown: str
) -> FrameSource:
    if not capture.isOpened():
        capture.release()
        if kind == "camera":
            raise DataError(f"camera {shown} does not open; check the index (0, 1 ...) and access")
        raise DataError(
            f"{shown}: OpenCV cannot read it as a video; give a video file ({VIDEO_HINT})"
        )
    ok, first = capture.read()
    if not ok or first is None:
        capture.release()
        raise DataError(f"{shown}: no frame could be decoded; check that the video is not damaged")
    reported = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    rate = reported if 0 < reported < 1000 else (fps or DEFAULT_FOLDER_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    height, width = first.shape[:2]
    return FrameSource(
        name=name,
        kind=kind,
        fps=rate,
        expected_frames=count if kind == "video" and count > 0 else None,
        width=width,
        height=height,
        _capture=capture,
        _first=first,
    )


def _open_folder(folder: Path, fps: float | None) -> FrameSource:
    from endobench.data import IMAGE_SUFFIXES, read_image

    files = sorted(
        (p for p in folder.iterdir()
         if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES),
        key=frame_order,
    )  # fmt: skip
    if not files:
        raise DataError(
            f"{folder}: no frames in the folder ({', '.join(IMAGE_SUFFIXES)}); give a folder of "
            "frames or a video file"
        )
    height = width = None
    for path in files:
        try:
            height, width = read_image(path).shape[:2]
            break
        except DataError:
            continue
    if height is None:
        raise DataError(f"{folder}: none of its {len(files)} frames can be decoded")
    return FrameSource(
        name=folder.name,
        kind="folder",
        fps=float(fps or DEFAULT_FOLDER_FPS),
        expected_frames=len(files),
        width=int(width),
        height=int(height),
        _files=files,
    )
