"""Samples and data sets: what every layout produces and every other room consumes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from endobench.errors import DataError


@dataclass(frozen=True)
class Sample:
    """One image with its ground truth.

    Attributes:
        id: Stable identifier ``<data set>/<subset>/<stem>`` (no subset part for flat sets), e.g.
            ``"kvasir/cju0qkwl35piu0993l0dewei2"`` or ``"polypgen/C3/EndoCV2021_C3_0001"``. It
            depends only on the data set's name and the file's place in its layout, never on the
            machine or the order of listing, so it is the key for splits and results.
        name: The image file's stem, used to name output files (``<name>_mask.jpg``).
        image: The image file.
        mask: The ground-truth mask file, or ``None`` (image-only sets and negative frames).
        negative: True for a frame known to contain no polyp: its truth is all background.
        subset: The subset the sample belongs to (``"C1"`` ... ``"C6"``,
            ``"negative/<sequence>"``, ``"Kvasir"`` in a collection), empty for flat sets.
        sequence: The video sequence the frame comes from (PolypGen's ``seq1``, ``seq1_neg``; the
            sub-folder of a negative folder), or None. Frames of one sequence are near-duplicates:
            split by sequence, never by frame.
    """

    id: str
    name: str
    image: Path
    mask: Path | None = None
    negative: bool = False
    subset: str = ""
    sequence: str | None = None

    @property
    def has_truth(self) -> bool:
        """Whether the sample has ground truth (a mask file, or all background when negative)."""
        return self.mask is not None or self.negative

    def read_image(self) -> np.ndarray:
        """Return the image as ``HxWx3`` uint8 RGB (see :func:`endobench.data.read_image`)."""
        from endobench.data.readers import read_image

        return read_image(self.image)

    def read_mask(self, threshold: int = 127) -> np.ndarray | None:
        """Return the truth as ``HxW`` bool: the mask file, all-false for a negative, else None."""
        from endobench.data.readers import empty_mask_like, read_mask

        if self.mask is not None:
            return read_mask(self.mask, threshold, truth=True)
        if self.negative:
            return empty_mask_like(self.image)
        return None

    def read(self, threshold: int = 127) -> tuple[np.ndarray, np.ndarray | None]:
        """Return ``(image, truth)`` and check that their sizes agree.

        Raises:
            DataError: The mask's size differs from the image's (naming both files).
        """
        from endobench.data.readers import read_image, read_mask

        image = read_image(self.image)
        if self.mask is not None:
            mask = read_mask(self.mask, threshold, truth=True)
            if mask.shape != image.shape[:2]:
                raise DataError(
                    f"{self.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but image {self.image} "
                    f"is {image.shape[1]}x{image.shape[0]}; resize or replace the mask"
                )
            return image, mask
        if self.negative:
            return image, np.zeros(image.shape[:2], dtype=bool)
        return image, None


@dataclass(frozen=True)
class Dataset:
    """A named, ordered collection of samples found in one folder.

    Attributes:
        name: The data set's name (``"kvasir"``, ``"polypgen/C1"``, ``"kvasir:test"``).
        root: The folder it was opened from.
        layout: The layout detected there (see :data:`endobench.data.layouts.LAYOUTS`).
        samples: The samples, sorted by id.
        skipped: Pairing problems that were skipped (``on_problem="skip"``), one line each.
    """

    name: str
    root: Path
    layout: str
    samples: tuple[Sample, ...]
    skipped: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, layout={self.layout!r}, samples={len(self.samples)}, "
            f"root={str(self.root)!r})"
        )

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    @property
    def ids(self) -> list[str]:
        """The sample ids in order."""
        return [sample.id for sample in self.samples]

    @property
    def has_truth(self) -> bool:
        """Whether every sample has ground truth (False for image-only sets)."""
        return bool(self.samples) and all(sample.has_truth for sample in self.samples)

    @property
    def negative(self) -> bool:
        """Whether this is a negative set: every sample is a polyp-free frame (all-background
        truth), as :func:`endobench.data.open_negatives` returns."""
        return bool(self.samples) and all(sample.negative for sample in self.samples)

    @property
    def subsets(self) -> list[str]:
        """The top-level subset names present (``["C1", ..., "negative"]``), sorted."""
        return sorted({s.subset.split("/")[0] for s in self.samples if s.subset})

    def subset(self, name: str) -> Dataset:
        """Return the samples of subset ``name`` and of its sub-subsets (``"negative"`` holds
        ``"negative/seq1"``), as a data set named ``<name of this set>/<name>``.

        Raises:
            DataError: No such subset (the message lists the ones present).
        """
        chosen = tuple(
            s for s in self.samples if s.subset == name or s.subset.startswith(name + "/")
        )
        if not chosen:
            known = ", ".join(self.subsets) or "none"
            raise DataError(
                f"{self.root}: data set {self.name!r} has no subset {name!r}; known: {known}"
            )
        return replace(self, name=f"{self.name}/{name}", samples=chosen)

    def select(self, keys: Iterable[str], label: str) -> Dataset:
        """Return the samples whose id or name is in ``keys``, as a data set named ``label``.

        Args:
            keys: Sample ids or names (file stems), e.g. the lines of a split file.
            label: The name of the returned data set (``"kvasir:test"``).

        Raises:
            DataError: Some keys match no sample (the message names them).
        """
        wanted = list(dict.fromkeys(keys))
        by_key: dict[str, Sample] = {}
        for sample in self.samples:
            by_key.setdefault(sample.id, sample)
            by_key.setdefault(sample.name, sample)
        missing = [key for key in wanted if key not in by_key]
        if missing:
            raise DataError(
                f"{self.root}: {len(missing)} of {len(wanted)} entries of {label!r} are not in "
                f"data set {self.name!r} ({_preview(missing)}); point at the complete data set"
            )
        chosen = {by_key[key].id: by_key[key] for key in wanted}
        return replace(self, name=label, samples=tuple(sorted(chosen.values(), key=_by_id)))


def _by_id(sample: Sample) -> str:
    return sample.id


def _preview(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", and {len(items) - limit} more" if len(items) > limit else "")


def make_id(dataset: str, subset: str, stem: str) -> str:
    """Build a sample id from the data set's name, the subset and the file stem."""
    return "/".join(part for part in (dataset, subset, stem) if part)


def as_path(path: str | os.PathLike) -> Path:
    """Return ``path`` as an absolute :class:`Path` (ids never depend on it)."""
    return Path(path).expanduser().absolute()
