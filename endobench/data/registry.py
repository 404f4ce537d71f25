"""Named data sets found under a data root.

The data root (``data_root`` argument, else the ``ENDOBENCH_DATA`` environment variable) is
searched up to three folders deep for folders whose names identify a data set, whatever their
spelling (``Kvasir-SEG`` or ``Kvasir``, ``CVC-ClinicDB`` or ``CVC-612``, ``ETIS-LaribPolypDB``,
``CVC-ColonDB``, ``CVC-300``, ``PolypGen2021_MultiCenterData_v3`` or any folder holding
``data_C1``... or PolypGen's ``sequenceData/``; a copy of the sequences alone, such as a folder of
PolypGen's negative frames, is ``polypgen`` only where no whole release is found). Names:

- ``kvasir``, ``clinicdb``, ``colondb``, ``etis``, ``cvc300``, ``polypgen``: whole data sets;
- ``kvasir:train``, ``kvasir:test``, ``clinicdb:train``, ``clinicdb:test``: PraNet's split;
- ``polypgen/C1`` ... ``polypgen/C6``, ``polypgen/positive``, ``polypgen/negative``: subsets;
- ``pranet-train`` (PraNet's ``TrainDataset``), ``pranet-test`` (its ``TestDataset``) and
  ``pranet-test/<set>``; when a data set is only present as a PraNet test folder, its plain name
  (``colondb``, ``etis``, ``cvc300``; ``kvasir:test``, ``clinicdb:test``) points there;
- ``sample/kvasir``, ``sample/clinicdb``: the bundled sample, always available.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import NamedTuple

from endobench.data.dataset import Dataset, as_path
from endobench.data.layouts import canonical_name, detect_layout, open_dataset
from endobench.data.polypgen import sequences_folder
from endobench.data.sample import SAMPLE_SETS, sample_dataset
from endobench.data.splits import PRANET_PARTS, PRANET_SETS, pranet_split
from endobench.errors import DataError

ENV_VAR = "ENDOBENCH_DATA"
_MAX_DEPTH = 3
_WHOLE_TEST_SETS = ("colondb", "etis", "cvc300")


class FoundDataset(NamedTuple):
    """A named data set found under a data root.

    ``count`` is what ``run``, ``train`` and ``calibrate`` accept from it: the samples left once
    the ``problems`` (one line each) are skipped. Without ``--skip-problems`` those commands refuse
    a set with problems; a subset or split shares the problems of the data set it comes from.
    """

    name: str
    layout: str
    path: Path
    count: int
    problems: tuple[str, ...] = ()


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """Return the data root: ``data_root``, else ``$ENDOBENCH_DATA``.

    Raises:
        DataError: Neither is set, or the folder does not exist.
    """
    chosen = data_root if data_root is not None else os.environ.get(ENV_VAR)
    if not chosen:
        raise DataError(f"no data root: pass --data-root DIR or set {ENV_VAR}")
    folder = as_path(chosen)
    if not folder.is_dir():
        raise DataError(f"{folder}: data root not found; pass an existing folder as --data-root")
    return folder


def find_datasets(
    data_root: str | os.PathLike | None = None, *, check_files: bool = False
) -> list[FoundDataset]:
    """List the named data sets and subsets under the data root, with their sample counts.

    Each set is opened by the same pairing rule as :func:`load_dataset` (pairs and sizes from
    the headers), so a count is exactly what ``run`` accepts, and a set with problems is one
    that ``run`` refuses without ``--skip-problems``.

    Args:
        data_root: Folder holding the data sets; default ``$ENDOBENCH_DATA``.
        check_files: Also read every file and count a truncated or undecodable one as a problem,
            as ``--skip-problems`` does (slower: every file is read).

    Raises:
        DataError: No data root (see :func:`resolve_data_root`).
    """
    found: list[FoundDataset] = []
    for name, (path, layout) in _scan(resolve_data_root(data_root)).items():
        try:
            dataset = _open_quietly(path, name, check_files)
        except DataError as err:
            found.append(FoundDataset(name, layout, path, 0, (str(err),)))
            continue
        problems = tuple(dataset.skipped)
        found.append(FoundDataset(name, layout, path, len(dataset), problems))
        for subset in dataset.subsets:
            if layout != "collection":
                count = len(dataset.subset(subset))
                found.append(FoundDataset(f"{name}/{subset}", layout, path, count, problems))
        if name in PRANET_SETS:
            stems = {s.name for s in dataset}
            for part in PRANET_PARTS:
                count = len(stems.intersection(pranet_split(name, part)))
                found.append(FoundDataset(f"{name}:{part}", layout, path, count, problems))
    names = {entry.name for entry in found}
    for entry in list(found):
        short = entry.name.removeprefix("pranet-test/")
        if entry.name.startswith("pranet-test/"):
            alias = f"{short}:test" if short in PRANET_SETS else short
            if alias not in names:
                found.append(entry._replace(name=alias))
    return sorted(found, key=lambda entry: entry.name)


def load_dataset(
    name: str,
    data_root: str | os.PathLike | None = None,
    *,
    on_problem: str = "error",
    check_files: bool | None = None,
) -> Dataset:
    """Open a named data set or subset (see the module docstring for the names).

    Args:
        name: ``"kvasir"``, ``"kvasir:test"``, ``"polypgen/C3"``, ``"sample/kvasir"``, ...
        data_root: Folder holding the data sets; default ``$ENDOBENCH_DATA``. Not needed for
            ``sample/...``.
        on_problem: ``"error"`` or ``"skip"``, as for :func:`open_dataset`.
        check_files: Read every file while opening, as for :func:`open_dataset` (``run`` and
            ``train`` do, so that an unreadable file is found before any work starts).

    Raises:
        DataError: Unknown name (the message lists the names found), or the data set's problems.
    """
    if name.startswith("sample/") and name.removeprefix("sample/") in SAMPLE_SETS:
        return sample_dataset(name)
    index = _scan(resolve_data_root(data_root))
    opener = partial(open_dataset, on_problem=on_problem, check_files=check_files)
    base, _, part = name.partition(":")
    if part:
        return _load_split(name, base, part, index, opener, skipping=on_problem == "skip")
    if name in index:
        path, _ = index[name]
        return opener(path, name=_id_prefix(name))
    if name in _WHOLE_TEST_SETS and f"pranet-test/{name}" in index:
        return _open_pranet_test(name, name, index, opener)
    head, _, subset = name.partition("/")
    if subset and head in index and not head.startswith("pranet-test"):
        path, _ = index[head]
        return opener(path, name=head).subset(subset)
    raise DataError(_unknown(name, index))


def _load_split(
    name: str, base: str, part: str, index: dict, opener: Callable, skipping: bool
) -> Dataset:
    if base not in PRANET_SETS or part not in PRANET_PARTS:
        raise DataError(
            f"unknown split {name!r}; known splits: "
            + ", ".join(f"{s}:{p}" for s in PRANET_SETS for p in PRANET_PARTS)
        )
    if base in index:
        path, _ = index[base]
        dataset = opener(path, name=base)
        keys = pranet_split(base, part)
        if skipping:  # the skipped files are listed in dataset.skipped
            present = {s.name for s in dataset}
            keys = [key for key in keys if key in present]
        return dataset.select(keys, name)
    if part == "test" and f"pranet-test/{base}" in index:
        return _open_pranet_test(base, name, index, opener)
    raise DataError(_unknown(name, index))


def _open_pranet_test(base: str, label: str, index: dict, opener: Callable) -> Dataset:
    path, _ = index[f"pranet-test/{base}"]
    return replace(opener(path, name=base), name=label)


def _id_prefix(name: str) -> str:
    """Sample ids of a PraNet test folder are those of its data set (``kvasir/<stem>``)."""
    return name.removeprefix("pranet-test/") if name.startswith("pranet-test/") else name


def _unknown(name: str, index: dict) -> str:
    found = ", ".join(sorted(index)) or "none"
    return (
        f"unknown data set {name!r}; found under the data root: {found}; names: kvasir, "
        f"clinicdb, colondb, etis, cvc300, polypgen[/C1..C6|/positive|/negative], kvasir:train|test, "
        f"clinicdb:train|test, pranet-train, pranet-test[/<set>], sample/kvasir, sample/clinicdb "
        f"(run `endobench datasets` to see what is there)"
    )


def _scan(root: Path) -> dict[str, tuple[Path, str]]:
    """Map each data set name found under ``root`` to its folder and layout (shallowest wins)."""
    index: dict[str, tuple[Path, str]] = {}
    level = [root]
    for _depth in range(_MAX_DEPTH + 1):
        next_level: list[Path] = []
        for folder in level:
            name = _dataset_name(folder)
            layout = _layout_or_none(folder) if name else None
            if name and layout:
                _add_found(index, name, folder, layout)
                if name == "pranet-test":
                    _add_pranet_test_children(folder, index)
                continue
            next_level.extend(_subfolders(folder))
        level = next_level
    return index


def _add_found(index: dict[str, tuple[Path, str]], name: str, folder: Path, layout: str) -> None:
    """Index ``name`` unless found already; a PolypGen release beats a copy of its sequences."""
    if name in index and not (name == "polypgen" and _sequences_only(index[name][0])):
        return
    if name not in index or not _sequences_only(folder):
        index[name] = (folder, layout)


def _sequences_only(folder: Path) -> bool:
    return not any(child.name.lower().startswith("data_c") for child in _subfolders(folder))


def _add_pranet_test_children(folder: Path, index: dict[str, tuple[Path, str]]) -> None:
    for child in _subfolders(folder):
        layout = _layout_or_none(child)
        if layout and layout != "collection":
            short = canonical_name(child.name) or child.name.lower()
            index.setdefault(f"pranet-test/{short}", (child, layout))


def _dataset_name(folder: Path) -> str | None:
    name = canonical_name(folder.name)
    if name is None and (
        any(child.name.lower().startswith("data_c") for child in _subfolders(folder))
        or sequences_folder(folder) is not None
    ):
        return "polypgen"
    return name


def _layout_or_none(folder: Path) -> str | None:
    try:
        return detect_layout(folder)
    except DataError:
        return None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(
            Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")
        )
    except OSError:
        return []


def _open_quietly(path: Path, name: str, check_files: bool) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_dataset(path, name=_id_prefix(name), on_problem="skip", check_files=check_files)
