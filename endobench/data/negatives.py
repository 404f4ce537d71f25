"""Negative sets: folders of polyp-free frames, whose truth is all background.

A negative set is a first-class data set: every sample has ``mask=None`` and ``negative=True``, so
:meth:`Sample.read_mask` gives an all-false mask of the image's size and the set scores like any
other (an empty prediction is a perfect one). :attr:`Dataset.negative` is True for it.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from pathlib import Path

from endobench.data.dataset import Dataset, Sample, as_path, make_id
from endobench.data.layouts import default_name, detect_layout, open_dataset
from endobench.data.pairing import Listing, list_images_recursive, pair_folders
from endobench.data.pairing import check_files as check_readable
from endobench.data.polypgen import sequence_part
from endobench.errors import DataError

NEGATIVES_LAYOUT = "negatives"
_MASK_FOLDERS = ("ground truth", "groundtruth", "gt")


def open_negatives(
    folder: str | os.PathLike,
    *,
    name: str | None = None,
    on_problem: str = "error",
    check_files: bool = False,
) -> Dataset:
    """Open a folder of polyp-free frames as a negative set.

    - A PolypGen folder (``sequenceData/negativeOnly/<seq>/``, ``negativeOnly`` itself, one
      sequence folder, or a whole release) gives its negative frames, with PolypGen's ids
      (``polypgen/negative/<seq>/<stem>``) and ``Sample.sequence`` set to the sequence.
    - Any other folder gives every image anywhere below it. A sample in a sub-folder has that
      sub-folder (relative path) as its subset and its first part as its sequence, so frames of one
      recording kept in one folder split together.

    Args:
        folder: The folder of negative frames.
        name: The data set's name, which starts every sample id. Default: as
            :func:`endobench.data.open_dataset` names the folder (``polypgen`` for PolypGen's
            sequence folders, else the folder name in lower case).
        on_problem: ``"error"``: two images with one stem in one folder (or, with
            ``check_files``, an unreadable file) raise; ``"skip"``: they are left out with one
            warning and listed in :attr:`Dataset.skipped`.
        check_files: Read every file and count a truncated or undecodable one as a problem
            (:func:`endobench.data.pairing.check_files`), as ``endobench run`` does.

    Returns:
        A :class:`Dataset` with :attr:`Dataset.negative` True, samples sorted by id.

    Raises:
        DataError: The folder is missing, holds no images, holds masks (a folder of pairs is not a
            negative set), has problems (with ``on_problem="error"``), or is a PolypGen folder
            without negative frames.
    """
    if on_problem not in ("error", "skip"):
        raise ValueError(f"on_problem must be 'error' or 'skip', not {on_problem!r}")
    root = as_path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: negative frames folder not found; check the path (--negatives)")
    if sequence_part(root) is not None or _layout(root) == "polypgen":
        dataset = open_dataset(root, name=name, on_problem=on_problem, check_files=check_files)
        return _polypgen_negatives(root, dataset)
    files = list_images_recursive(root)
    masks = [path for path in files if _looks_like_mask(path, root)]
    if masks:
        raise DataError(
            f"{masks[0]}: looks like a mask; a negative set holds polyp-free frames only: pass a "
            "folder of images without masks"
        )
    if not files:
        raise DataError(f"{root}: no image files found; pass a folder of polyp-free frames")
    listing = Listing()
    for subset, paths in sorted(_by_folder(files, root).items()):
        listing.extend(pair_folders(paths, None, root, subset=subset, negative=True))
    if check_files:
        check_readable(listing, root)
    _report(root, listing.problems, on_problem)
    set_name = name or default_name(root)
    samples = [
        Sample(
            id=make_id(set_name, pair.subset, pair.key),
            name=pair.image.stem,
            image=pair.image,
            negative=True,
            subset=pair.subset,
            sequence=pair.subset.split("/")[0] or None,
        )
        for pair in listing.pairs
    ]
    if not samples:
        raise DataError(f"{root}: no usable images left; fix the files listed above")
    samples.sort(key=lambda sample: sample.id)
    return Dataset(set_name, root, NEGATIVES_LAYOUT, tuple(samples), tuple(listing.problems))


def _report(root: Path, problems: list[str], on_problem: str) -> None:
    if not problems:
        return
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if problems[5:] else "")
    if on_problem == "error":
        raise DataError(
            f"{root}: {len(problems)} problem(s): {shown}; rename or remove these files, or skip "
            "them (--skip-problems)"
        )
    warnings.warn(f"{root}: skipped {len(problems)} problem(s): {shown}", stacklevel=3)


def _polypgen_negatives(root: Path, dataset: Dataset) -> Dataset:
    if (sequence_part(root) or "").startswith("negative"):
        return dataset  # already named <name>/negative[/<seq>]
    if not any(sample.negative for sample in dataset):
        raise DataError(
            f"{root}: PolypGen folder without negative frames (sequenceData/negativeOnly/<seq>/); "
            "pass a folder of polyp-free frames"
        )
    return dataset.subset("negative")


def _layout(root: Path) -> str | None:
    try:
        return detect_layout(root)
    except DataError:
        return None


def _by_folder(files: list[Path], root: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        relative = path.parent.relative_to(root).as_posix()
        groups["" if relative == "." else relative].append(path)
    return groups


def _looks_like_mask(path: Path, root: Path) -> bool:
    if path.stem.lower().endswith("_mask"):
        return True
    folders = path.parent.relative_to(root).parts
    return any(part.lower().startswith("mask") or part.lower() in _MASK_FOLDERS for part in folders)
