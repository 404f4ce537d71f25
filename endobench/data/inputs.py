"""Opening one input of a command, as the user names it: a named data set or a folder of images.

``endobench run`` turns each input into a set (:mod:`endobench.runner.sources`); ``endobench export
--calibration`` reads its calibration images through :func:`open_source`. Every file is checked
before anything runs: a truncated input is refused, or left out with ``skip_problems``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from endobench.data.dataset import Dataset
from endobench.errors import DataError


def open_named(name: str, data_root: str | None, skip_problems: bool = False) -> Dataset:
    """Open a named data set (``kvasir``, ``kvasir:test``, ``polypgen/C1``, ``sample/kvasir``...).

    Raises:
        DataError: Unknown name (listing the known ones), data set not found under the data root,
            or (without ``skip_problems``) its pairing problems and unreadable files.
    """
    from endobench.data import load_dataset

    on_problem = "skip" if skip_problems else "error"
    # Every file is checked before any inference: a truncated input is refused (or skipped) here.
    return load_dataset(name, data_root, on_problem=on_problem, check_files=True)


def open_folder(images: str, masks: str | None = None, skip_problems: bool = False) -> Dataset:
    """Open an image folder: any known layout, or ``images`` paired with ``masks`` by stem.

    The data layer's one pairing rule (:func:`endobench.data.open_dataset`): masks pair with
    images whose stem equals theirs, with or without a ``_mask`` suffix.

    Raises:
        DataError: Missing folders or (without ``skip_problems``) pairing problems and unreadable
            files, by name.
    """
    from endobench.data.layouts import open_dataset

    folder = Path(images)
    if not folder.is_dir():
        raise DataError(f"image folder {folder} not found; check --images")
    on_problem = "skip" if skip_problems else "error"
    return open_dataset(
        folder, name=folder.name, on_problem=on_problem, masks=masks, check_files=True
    )


def open_source(text: str, data_root: str | None = None) -> Dataset:
    """Open an image folder (any layout) or, when ``text`` is no folder, a named data set."""
    if Path(text).is_dir():
        return open_folder(text)
    return open_named(text, data_root)


def evenly_spaced(total: int, count: int) -> list[int]:
    """Return ``count`` indices spread evenly over ``range(total)`` (all of them if fewer).

    The choice depends only on ``total`` and ``count``, so runs time the same images.
    """
    if count <= 0 or total <= 0:
        return []
    if count >= total:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, count).round()})
