"""Pair images with masks by key, and report every pairing problem by name."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from endobench.data.headers import image_size
from endobench.data.readers import IMAGE_SUFFIXES

# Reading this many headers can take over a second on a cold network file system.
_PROGRESS_ABOVE = 4000


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


def is_image_file(name: str) -> bool:
    """Whether a file name has an image suffix (case-insensitive) and is not hidden."""
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


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
        dirs[:] = [d for d in dirs if not d.startswith(".")]
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
