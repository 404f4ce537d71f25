"""The stream's output folder: ``overlay.mp4``, ``frames.csv`` and ``summary.json``.

The video and the table grow frame by frame in temporary files beside their names
(:func:`endobench.io.atomic_path`); :meth:`StreamOutputs.finish` renames them into place and then
writes the summary, so a folder with a ``summary.json`` is complete (or was finalised after a
Ctrl-C, which the summary says). On any error the temporary files are removed and whatever this
run had already renamed is removed again: nothing half-written is left behind as if complete.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from endobench.errors import ConfigError, OutputError, output_error
from endobench.stream.summary import FrameRecord, csv_header, csv_line

OUTPUT_NAMES = ("overlay.mp4", "frames.csv", "summary.json")
#: Free space below which the video writer (which reports no error of its own) stops.
MIN_FREE_BYTES = 16 << 20
#: Frames between two checks of the free space.
SPACE_CHECK_EVERY = 25


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse to overwrite an earlier stream's outputs, or a file where the folder should be.

    Raises:
        ConfigError: ``out`` is a file, or holds outputs and ``force`` is False.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    existing = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{out} already holds {', '.join(existing)}; pass --force to replace them or "
            "choose another --out"
        )


class StreamOutputs:
    """Writes one stream's outputs; use as a context manager around the pipeline.

    Args:
        out: The output folder (created when missing).
        fps: Frame rate of the overlay video (the source's).
        width: Frame width.
        height: Frame height.
    """

    def __init__(self, out: Path, fps: float, width: int, height: int):
        self.out = Path(out)
        self.fps, self.size = float(fps), (int(width), int(height))
        self.frames_written = 0
        self._stack = contextlib.ExitStack()
        self._video: cv2.VideoWriter | None = None
        self._csv = None
        self._temporary: dict[str, Path] = {}

    def __enter__(self) -> StreamOutputs:
        from endobench.io import atomic_path

        try:
            for name in OUTPUT_NAMES[:2]:
                self._temporary[name] = self._stack.enter_context(atomic_path(self.out / name))
            video_tmp = self._temporary["overlay.mp4"]
            self._video = cv2.VideoWriter(
                str(video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size
            )
            if not self._video.isOpened():
                raise OutputError(
                    f"cannot write {self.out / 'overlay.mp4'}: OpenCV's video writer does not "
                    "open (mp4v); check the folder and the OpenCV installation"
                )
            self._csv = open(self._temporary["frames.csv"], "w", encoding="utf-8", newline="")
            self._csv.write(csv_header())
        except BaseException:
            self._abandon()
            raise
        return self

    def write(self, frame_bgr: np.ndarray, record: FrameRecord) -> None:
        """Append one overlay frame and its row.

        Raises:
            OutputError: The disk is (nearly) full or refused the row.
        """
        if self.frames_written % SPACE_CHECK_EVERY == 0:
            self._check_space()
        self._video.write(frame_bgr)
        try:
            self._csv.write(csv_line(record.csv_row()))
        except OSError as err:
            raise output_error(err, self.out / "frames.csv") from err
        self.frames_written += 1

    def finish(self, summary: dict[str, Any]) -> Path:
        """Close the video and the table, rename them into place and write ``summary.json``.

        Returns:
            The summary's path.
        """
        from endobench.io import write_json_atomic

        try:
            self._close_files()
            size = self._temporary["overlay.mp4"].stat().st_size
            if size == 0 and self.frames_written:
                raise output_error(OSError(errno.ENOSPC, "no space"), self.out / "overlay.mp4")
            self._stack.close()  # renames overlay.mp4 and frames.csv into place
            return write_json_atomic(self.out / "summary.json", summary)
        except BaseException:
            self._remove_published()
            raise

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self._abandon()

    def _check_space(self) -> None:
        try:
            free = shutil.disk_usage(self.out).free
        except OSError:
            return
        if free < MIN_FREE_BYTES:
            raise output_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), self.out)

    def _close_files(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
        if self._csv is not None:
            csv, self._csv = self._csv, None
            try:
                csv.close()
            except OSError as err:
                raise output_error(err, self.out / "frames.csv") from err

    def _abandon(self) -> None:
        """Remove the temporary files (an error or an interruption before finishing)."""
        with contextlib.suppress(Exception):
            self._close_files()
        with contextlib.suppress(BaseException):
            self._stack.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)
        for tmp in self._temporary.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _remove_published(self) -> None:
        """Undo a finish that failed half-way: no output may stand without its summary."""
        for tmp in self._temporary.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for name in OUTPUT_NAMES:
            with contextlib.suppress(OSError):
                (self.out / name).unlink(missing_ok=True)
