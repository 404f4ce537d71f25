"""``endobench package --check``: validate a submission zip made anywhere.

Against what the zip must answer, by the rules of :mod:`endobench.writers.package`:

- the test images' folder (``--images``): every image needs its mask, of its size;
- a named data set (``--dataset kvasir:test``): its images, read from the data layer;
- nothing: the layout alone (``EndoCV2021/segmentation/<set>_pred/<name>_mask.jpg`` and the
  toolkit's ``timeElaspsed<set>.txt``, nothing else), and each mask decodes and is binary;
  missing masks cannot be known.

A zip of the whole run folder holds the submission one folder down (``<run>/EndoCV2021/...``);
the check says so, instead of only finding no submission.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from endobench.data.dataset import Dataset
from endobench.errors import EndobenchError
from endobench.writers.masks import SUBMISSION_ROOT
from endobench.writers.package import PackageReport, expected_from_images, validate_entries

Expected = dict[str, dict[str, tuple[int, int] | None]]


def check_zip(
    zip_path: str | Path,
    images: str | Path | Mapping[str, str | Path] | None = None,
    skip_problems: bool = False,
    *,
    expected: Mapping[str, Mapping[str, tuple[int, int] | None]] | None = None,
) -> PackageReport:
    """Validate a submission zip made anywhere, against the test images or its layout alone.

    Args:
        zip_path: The zip file.
        images: The test images (see :func:`~endobench.writers.package.expected_from_images`);
            the zip's ``<set>_pred`` folders name the sets. None (and no ``expected``): the
            layout and the masks alone.
        skip_problems: A test image that cannot be read is listed in ``report.skipped`` (its
            mask's size is not checked) instead of stopping the check.
        expected: Per set, the test images' names and sizes (:func:`expected_from_dataset`);
            one set answers the zip's only set whatever its name.

    Returns:
        The validation report (``report.ok`` is False when problems were found).

    Raises:
        EndobenchError: The zip is missing, not a zip or holds no submission (naming where it
            sits when one folder down), or the images cannot be found.
    """
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise EndobenchError(f"zip {zip_path} not found; pass the submission zip")
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise EndobenchError(f"{zip_path} is not a valid zip file ({err}); rebuild it") from err
    with archive:
        infos = archive.infolist()
        set_names = _set_names([i.filename for i in infos if not i.is_dir()], zip_path)
        skipped: list[str] | None = [] if skip_problems else None
        if expected is not None:
            wanted = _match_sets(dict(expected), set_names, zip_path)
        elif images is not None:
            wanted = expected_from_images(images, set_names, skipped)
        else:
            wanted = _layout_only(infos)
        files = [(i.filename, _reader(archive, i.filename)) for i in infos if not i.is_dir()]
        folders = [i.filename for i in infos if i.is_dir()]
        report = validate_entries(files, wanted, folders)
        report.skipped = skipped or []
        return report


def expected_from_dataset(dataset: Dataset, set_name: str) -> Expected:
    """The names and sizes (from the file headers; None when unknown) of a data set's images, as
    the one set ``set_name`` (``endobench run``'s name for it)."""
    from endobench.data.headers import image_size

    return {set_name: {sample.name: image_size(sample.image) for sample in dataset.samples}}


def _set_names(files: list[str], zip_path: Path) -> list[str]:
    """The sets of a zip's ``EndoCV2021/segmentation/<set>_pred/`` folders."""
    root = PurePosixPath(*SUBMISSION_ROOT.parts)
    names = sorted({_set_of(PurePosixPath(f), root) for f in files} - {None})
    if names:
        return names
    for name in files:  # the layout one folder down: a zip of the run folder
        path = PurePosixPath(name)
        if len(path.parts) > 1 and _set_of(PurePosixPath(*path.parts[1:]), root):
            raise EndobenchError(
                f"{zip_path}: the submission sits one folder down, in {path.parts[0]}/{root}/; "
                f"zip it so that {root.parts[0]}/ is at the top (endobench package RUN --out "
                "FILE.zip does)"
            )
    raise EndobenchError(
        f"{zip_path} holds no {root}/<set>_pred/ folder; it is not an EndoCV2021 submission"
    )


def _set_of(path: PurePosixPath, root: PurePosixPath) -> str | None:
    parent = path.parent
    if parent.parent == root and parent.name.endswith("_pred"):
        return parent.name[: -len("_pred")]
    return None


def _match_sets(expected: Expected, set_names: list[str], zip_path: Path) -> Expected:
    if set(expected) == set(set_names):
        return expected
    if len(expected) == 1 and len(set_names) == 1:
        return {set_names[0]: next(iter(expected.values()))}
    raise EndobenchError(
        f"{zip_path} holds the sets {', '.join(set_names)}, not {', '.join(expected)}; "
        "check it against the data set it answers"
    )


def _layout_only(infos: list[zipfile.ZipInfo]) -> Expected:
    """Every mask the zip holds, as if it were the test set: only the layout is checked."""
    root = PurePosixPath(*SUBMISSION_ROOT.parts)
    wanted: Expected = {}
    for info in infos:
        path = PurePosixPath(info.filename)
        set_name = None if info.is_dir() else _set_of(path, root)
        if set_name is None:
            continue
        names = wanted.setdefault(set_name, {})
        stem, dot, _ = path.name.rpartition(".")
        if dot and stem.endswith("_mask"):
            names[stem[: -len("_mask")]] = None
    return wanted


def _reader(archive: zipfile.ZipFile, name: str) -> Callable[[], bytes]:
    return lambda: archive.read(name)
