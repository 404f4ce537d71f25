"""Splits: PraNet's standard split, seeded k-fold cross-validation and split files.

A split file holds one sample id (``kvasir/cju0qkwl35piu0993l0dewei2``) or file stem
(``cju0qkwl35piu0993l0dewei2``) a line; blank lines and lines starting with ``#`` are ignored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from endobench.errors import ConfigError, DataError
from endobench.io import write_text_atomic

PRANET_SETS = ("kvasir", "clinicdb")
PRANET_PARTS = ("train", "test")
_PRANET_DIR = Path(__file__).resolve().parent / "split_lists" / "pranet"

T = TypeVar("T")


def pranet_split(dataset: str, part: str) -> list[str]:
    """Return the file stems of PraNet's standard split (bundled with endobench).

    PraNet (Fan et al., MICCAI 2020) trains on 900 Kvasir-SEG + 550 CVC-ClinicDB images and tests
    on the other 100 + 62.

    Args:
        dataset: ``"kvasir"`` or ``"clinicdb"``.
        part: ``"train"`` or ``"test"``.

    Returns:
        The stems in the order of the bundled list.

    Raises:
        ConfigError: Unknown data set or part.
    """
    if dataset not in PRANET_SETS or part not in PRANET_PARTS:
        raise ConfigError(
            f"no PraNet split {dataset}:{part}; use one of "
            + ", ".join(f"{d}:{p}" for d in PRANET_SETS for p in PRANET_PARTS)
        )
    return read_split_file(_PRANET_DIR / f"{dataset}_{part}.txt")


def read_split_file(path: str | os.PathLike) -> list[str]:
    """Read a split file: one id or stem a line, ``#`` comments and blank lines ignored.

    Raises:
        DataError: The file is missing or lists an entry twice.
    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{file}: split file not found; check the path") from None
    entries = [line.strip() for line in lines]
    entries = [entry for entry in entries if entry and not entry.startswith("#")]
    seen: set[str] = set()
    repeated = [e for e in entries if e in seen or seen.add(e)]
    if repeated:
        raise DataError(
            f"{file}: lists {', '.join(sorted(set(repeated))[:5])} more than once; remove the repeats"
        )
    return entries


def write_split_file(
    path: str | os.PathLike, entries: Sequence[str], *, overwrite: bool = False
) -> Path:
    """Write ``entries`` (ids or stems) one a line, atomically.

    Raises:
        DataError: The file exists and ``overwrite`` is False.
    """
    file = Path(path)
    if file.exists() and not overwrite:
        raise DataError(f"{file}: already exists; choose another name or remove it first")
    return write_text_atomic(file, "".join(f"{entry}\n" for entry in entries))


def kfold(samples: Sequence[T], k: int = 5, seed: int = 0) -> list[tuple[list[T], list[T]]]:
    """Split samples into ``k`` folds for cross-validation.

    Each sample goes to the validation part of exactly one fold; fold sizes differ by at most one.
    The assignment depends only on the sample ids and ``seed`` (samples are ordered by a SHA-256
    hash of ``"<seed>:<id>"``, then dealt round-robin), so it is the same on every machine and
    Python/NumPy version and for any input order.

    Args:
        samples: Objects with an ``id`` attribute (:class:`Sample`) or id strings.
        k: Number of folds, 2 or more and at most the number of samples.
        seed: Changes the assignment.

    Returns:
        ``k`` pairs ``(train, val)``, each list sorted by id.

    Raises:
        ConfigError: ``k`` is out of range.
        DataError: Two samples share an id.
    """
    items = list(samples)
    if not 2 <= k <= len(items):
        raise ConfigError(
            f"{k} folds (--folds) is out of range for {len(items)} samples: use 2 to {len(items)}"
        )
    ids = [_sample_id(item) for item in items]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise DataError(f"sample ids repeat ({', '.join(repeated[:5])}); k-fold needs unique ids")
    by_id = dict(zip(ids, items, strict=True))
    order = sorted(ids, key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(), i))
    fold_of = {sample_id: position % k for position, sample_id in enumerate(order)}
    folds = []
    for fold in range(k):
        train = [by_id[i] for i in sorted(ids) if fold_of[i] != fold]
        val = [by_id[i] for i in sorted(ids) if fold_of[i] == fold]
        folds.append((train, val))
    return folds


def _sample_id(item: object) -> str:
    return item if isinstance(item, str) else item.id


def apply_split_file(dataset, path: str | os.PathLike):
    """Return the samples of ``dataset`` listed in the split file ``path`` (ids or stems).

    The result is named ``<data set>:<file stem>``.

    Raises:
        DataError: The file is missing, or lists entries that are not in the data set.
    """
    file = Path(path)
    return dataset.select(read_split_file(file), f"{dataset.name}:{file.stem}")
