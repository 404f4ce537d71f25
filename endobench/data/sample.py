"""The sample of real pairs bundled inside the package (see ``endobench/sample/README.md``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from endobench.data.dataset import Dataset
from endobench.errors import DataError

SAMPLE_SETS = ("kvasir", "clinicdb")


def sample_root() -> Path:
    """Return the folder of the bundled sample: ``kvasir/`` and ``clinicdb/``, each with
    ``images/`` and ``masks/``."""
    return Path(__file__).resolve().parent.parent / "sample"


def sample_dataset(name: str) -> Dataset:
    """Open a bundled sample set, ``"kvasir"`` or ``"clinicdb"`` (10 pairs each).

    The data set is named ``sample/<name>``; its sample ids are those of the full data set
    (``kvasir/<stem>``), because the files are unchanged copies of it.

    Raises:
        DataError: Unknown name, or the sample is missing from the installation.
    """
    from endobench.data.layouts import open_dataset

    short = name.removeprefix("sample/")
    if short not in SAMPLE_SETS:
        raise DataError(f"no bundled sample {name!r}; use one of {', '.join(SAMPLE_SETS)}")
    folder = sample_root() / short
    if not folder.is_dir():
        raise DataError(f"{folder}: bundled sample missing; reinstall endobench")
    dataset = open_dataset(folder, name=short)
    return replace(dataset, name=f"sample/{short}")
