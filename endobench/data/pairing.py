"""The one pairing rule: which files are images, how images pair with masks, what is a problem.

Every command that pairs files (``datasets``, ``run``, ``score``, ``train``, ``calibrate``,
``package --check``) lists them through :func:`list_images`, so they all see the same files:

- a file is an image when its suffix is one of :data:`~endobench.data.readers.IMAGE_SUFFIXES`
  (any case);
- hidden files (``.DS_Store``, AppleDouble ``._*`` copies that macOS leaves on other disks) and
  system files (``Thumbs.db``, ``desktop.ini``, ``~$*`` lock files) are ignored whatever their
  suffix, and so are hidden folders and ``__MACOSX``;
- known companion files of real data sets are recognised by the layouts and ignored (the original
  CVC-ColonDB's polyp contours ``cpN.tiff`` beside its masks ``pN.tiff``).

Images pair with masks by key (:func:`pair_folders`); an image without a mask, a mask without an
image, two files with one key and (:func:`check_sizes`) a size mismatch are *problems*, one line
each. With ``--skip-problems`` they are left out and listed; :func:`check_files` adds the files
that cannot be read (truncated or undecodable), found by reading their bytes
(:func:`~endobench.data.readers.image_file_problem`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from endobench.data.headers import image_size
from endobench.data.readers import IMAGE_SUFFIXES, image_file_problem, mask_file_problem

# Reading this many headers can take over a second on a cold network file system.
_PROGRESS_ABOVE = 4000
# Checking files reads them whole: show progress sooner.
_CHECK_PROGRESS_ABOVE = 500
#: System files that are never data, whatever their suffix (compared in lower case).
SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", ".ds_store"})
_P_NUMBERED = re.compile(r"^p(\d+)$", re.IGNORECASE)
_IGNORED_DIRS = frozenset({"__macosx", "$recycle.bin", "system volume information"})


@dataclass(frozen=True)
class Pair:
    """An image and its mask (or None) before it becomes a :class:`Sample`."""

    key: str
    image: Path
    mask: Path | None
    subset: str = ""
    negative: bool = False


@dataclass
class Listing:
    """The pairs a layout found and the problems it met, one line per problem."""

    pairs: list[Pair] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def extend(self, other: Listing) -> None:
        """Append another listing's pairs and problems."""
        self.pairs.extend(other.pairs)
        self.problems.extend(other.problems)


def bounded_problems(problems: Iterable[str], limit: int = 5) -> list[str]:
    """The first ``limit`` problems, then one line ``... N more`` when there are more.

    Every command that lists problems (``datasets``, ``score``, ``package``) shows them so.
    """
    problems = list(problems)
    shown = problems[:limit]
    if len(problems) > limit:
        shown.append(f"... {len(problems) - limit} more")
    return shown


def is_ignored_file(name: str) -> bool:
    """Whether a file is never data: hidden (``.DS_Store``, AppleDouble ``._*``), a system file
    (``Thumbs.db``, ``desktop.ini``) or an office lock file (``~$*``)."""
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_FILES


def is_ignored_dir(name: str) -> bool:
    """Whether a folder is never data: hidden, ``__MACOSX`` or a Windows system folder."""
    return name.startswith(".") or name.lower() in _IGNORED_DIRS


def is_image_file(name: str) -> bool:
    """Whether a file name has an image suffix (case-insensitive) and is not an ignored file."""
    return not is_ignored_file(name) and name.lower().endswith(IMAGE_SUFFIXES)


def strip_mask_suffix(stem: str) -> str:
    """The key of a mask stem: the stem without a trailing ``_mask`` (any case)."""
    return stem[: -len("_mask")] if stem.lower().endswith("_mask") else stem


def numbered_mask_key(stem: str) -> str | None:
    """The frame number of a mask named as in the ETIS-LaribPolypDB and CVC-ColonDB releases
    (``p12`` -> ``"12"``, the mask of frame ``12``), or None for any other name."""
    match = _P_NUMBERED.match(stem)
    return match.group(1) if match else None


def list_images(folder: Path) -> list[Path]:
    """Return the image files directly inside ``folder``, sorted by name ([] when absent)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return sorted(Path(e.path) for e in entries if e.is_file() and is_image_file(e.name))


def list_images_recursive(folder: Path) -> list[Path]:
    """Return the image files anywhere below ``folder``, sorted by path."""
    found: list[Path] = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not is_ignored_dir(d)]
        found.extend(Path(current) / name for name in files if is_image_file(name))
    return sorted(found)


def pair_folders(
    images: Path | Iterable[Path],
    masks: Path | Iterable[Path] | None,
    root: Path,
    *,
    mask_key: Callable[[str], str] = str,
    subset: str = "",
    negative: bool = False,
) -> Listing:
    """Pair image files with mask files whose key matches the image's stem.

    Args:
        images: A folder of images, or the image files.
        masks: A folder of masks, the mask files, or None for images without truth.
        root: The data set's folder; problems name files relative to it.
        mask_key: Turns a mask's stem into the image stem it belongs to (``"p12"`` -> ``"12"``).
        subset: The subset the pairs belong to.
        negative: The images are negative frames (all-background truth).

    Returns:
        A :class:`Listing`; images without a mask, masks without an image and two files with
        one key are problems, and those files are left out of the pairs.
    """
    listing = Listing()
    by_image, image_dups = _index(_files(images), lambda stem: stem)
    if masks is None:
        by_mask: dict[str, Path] = {}
        mask_dups: dict[str, list[Path]] = {}
    else:
        by_mask, mask_dups = _index(_files(masks), mask_key)
    for _, paths in sorted({**image_dups, **mask_dups}.items()):
        names = ", ".join(_rel(p, root) for p in paths)
        listing.problems.append(f"one stem, several files: {names}")
    for key, image in sorted(by_image.items()):
        if key in image_dups or key in mask_dups:
            continue
        if masks is None:
            listing.pairs.append(Pair(key, image, None, subset, negative))
        elif key in by_mask:
            listing.pairs.append(Pair(key, image, by_mask[key], subset, negative))
        else:
            listing.problems.append(f"image without mask: {_rel(image, root)}")
    for key, mask in sorted(by_mask.items()):
        if key not in by_image and key not in image_dups:
            listing.problems.append(f"mask without image: {_rel(mask, root)}")
    return listing


def check_sizes(listing: Listing, root: Path, workers: int = 8) -> None:
    """Compare image and mask sizes from their headers; move mismatched pairs to the problems.

    Only the headers are read (see :mod:`endobench.data.headers`), in a few threads because the
    cost is file-system latency. A pair whose header cannot be parsed is kept; its sizes are
    compared when it is read.
    """
    with_masks = [pair for pair in listing.pairs if pair.mask is not None]
    if not with_masks:
        return
    paths = [p for pair in with_masks for p in (pair.image, pair.mask)]
    if len(paths) <= 64:
        sizes = [image_size(path) for path in paths]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(image_size, paths, chunksize=32)
            if len(paths) > _PROGRESS_ABOVE:
                from rich.progress import track

                results = track(
                    results, total=len(paths), description="Checking sizes", transient=True
                )
            sizes = list(results)
    mismatched: set[int] = set()
    for index, pair in enumerate(with_masks):
        image_hw, mask_hw = sizes[2 * index], sizes[2 * index + 1]
        if image_hw is not None and mask_hw is not None and image_hw != mask_hw:
            mismatched.add(id(pair))
            listing.problems.append(
                f"size mismatch: {_rel(pair.image, root)} is {image_hw[1]}x{image_hw[0]}, "
                f"{_rel(pair.mask, root)} is {mask_hw[1]}x{mask_hw[0]}"
            )
    if mismatched:
        listing.pairs = [pair for pair in listing.pairs if id(pair) not in mismatched]


def check_files(listing: Listing, root: Path, workers: int = 8) -> None:
    """Find the files that cannot be read and the truths that are not masks; move their pairs to
    the problems.

    Each image is checked by :func:`endobench.data.readers.image_file_problem`: the bytes are
    read, and decoded only when that cannot judge them, so a truncated JPEG (which OpenCV would
    decode with grey filler) is found at the cost of reading the file. Each mask is decoded and
    checked by the truth rule (:func:`~endobench.data.readers.mask_file_problem`), so a folder of
    photographs given as truths is refused before anything runs.
    """
    checks = [(pair.image, False) for pair in listing.pairs]
    checks += [(pair.mask, True) for pair in listing.pairs if pair.mask is not None]
    if not checks:
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_file_problem, checks, chunksize=16)
        if len(checks) > _CHECK_PROGRESS_ABOVE:
            from rich.progress import track

            results = track(
                results, total=len(checks), description="Checking files", transient=True
            )
        problems = dict(zip(checks, results, strict=True))
    kept: list[Pair] = []
    for pair in listing.pairs:
        keys = [(pair.image, False)] + ([(pair.mask, True)] if pair.mask is not None else [])
        found = [problems[key] for key in keys if problems[key]]
        if found:
            listing.problems.extend(f"{kind}: {_relative_message(m, root)}" for kind, m in found)
        else:
            kept.append(pair)
    listing.pairs = kept


def _file_problem(check: tuple[Path, bool]) -> tuple[str, str] | None:
    """``(kind, message)`` of what is wrong with an image (False) or a truth (True), or None."""
    path, is_truth = check
    if is_truth:
        return mask_file_problem(path)
    problem = image_file_problem(path)
    return None if problem is None else ("unreadable", problem)


def _relative_message(message: str, root: Path) -> str:
    """Shorten the leading path of a reader's message to the data set's folder."""
    head, sep, tail = message.partition(": ")
    return f"{_rel(Path(head), root)}{sep}{tail}" if sep else message


def _files(source: Path | Iterable[Path]) -> list[Path]:
    return list_images(source) if isinstance(source, Path) else list(source)


def _index(
    files: list[Path], key_of: Callable[[str], str]
) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    by_key: dict[str, Path] = {}
    duplicates: dict[str, list[Path]] = {}
    for path in files:
        key = key_of(path.stem)
        if key in by_key:
            duplicates.setdefault(key, [by_key[key]]).append(path)
        else:
            by_key[key] = path
    return by_key, duplicates


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
