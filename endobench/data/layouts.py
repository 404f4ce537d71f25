"""Data set layouts: recognise a folder's layout and list its image/mask pairs.

Layouts, tried in this order (folder names are matched case-insensitively):

``polypgen``
    PolypGen / EndoCV2021: ``data_C1`` ... ``data_C6`` with ``images_Cn/<name>.jpg`` and
    ``masks_Cn/<name>_mask.jpg`` (subsets ``C1`` ... ``C6``); ``sequenceData/positive/<seq>/``
    with ``images_*`` and ``masks_*`` (subsets ``positive/<seq>``); every image under
    ``sequenceData/negativeOnly/<seq>/`` is a negative frame (subsets ``negative/<seq>``). A single
    ``data_Cn`` folder opens as that centre; the sequence folders open on their own too
    (``sequenceData``, ``negativeOnly``, one ``<seq>``: see :mod:`endobench.data.polypgen`).
``etis-original``
    ETIS-LaribPolypDB: ``ETIS-LaribPolypDB/N.tif`` and ``Ground Truth/pN.tif``.
``clinicdb-original``
    CVC-ClinicDB release: ``Original/N.tif`` and ``Ground Truth/N.tif`` (or ``.png``), also when
    they sit in a ``PNG/`` or ``TIF/`` subfolder (``PNG/`` is preferred: same pixels, faster).
``images-masks``
    ``images/`` and ``masks/`` matched by stem (a mask may also be ``<stem>_mask``): Kvasir-SEG,
    the PNG CVC-ClinicDB, PraNet's ``TrainDataset`` and each ``TestDataset/<set>``.
``colondb-original``
    CVC-ColonDB release: ``N.tiff`` frames and ``pN.tiff`` masks in one folder (frames 77-97 end
    in ``.tif``); the release's polyp contours ``cpN.tiff`` are recognised and ignored.
``flat``
    Images and ``<stem>_mask`` masks side by side in one folder.
``image-only``
    Images and no masks (challenge test sets), directly in the folder or in ``images/``.
``collection``
    A folder of data sets, e.g. PraNet's ``TestDataset``: each child folder is opened and becomes
    a subset named after the folder; its samples keep the ids they have when opened alone.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from endobench.data.dataset import Dataset, Sample, _preview, as_path, make_id
from endobench.data.pairing import (
    Listing,
    check_sizes,
    is_ignored_dir,
    list_images,
    numbered_mask_key,
    pair_folders,
    strip_mask_suffix,
)
from endobench.data.pairing import check_files as check_readable
from endobench.data.polypgen import list_sequence_data, sequence_of, sequence_part
from endobench.errors import DataError

LAYOUTS = (
    "polypgen",
    "etis-original",
    "clinicdb-original",
    "images-masks",
    "colondb-original",
    "flat",
    "image-only",
    "collection",
)

# Folder names (lower case, letters and digits only) -> the data set's canonical name.
_ALIASES = {
    "kvasirseg": "kvasir",
    "kvasir": "kvasir",
    "cvcclinicdb": "clinicdb",
    "clinicdb": "clinicdb",
    "cvc612": "clinicdb",
    "cvccolondb": "colondb",
    "colondb": "colondb",
    "etislaribpolypdb": "etis",
    "etislarib": "etis",
    "etis": "etis",
    "cvc300": "cvc300",
    "polypgen": "polypgen",
    "polypgen2021multicenterdatav3": "polypgen",
    "polypgen2021multicenterdata": "polypgen",
    "traindataset": "pranet-train",
    "testdataset": "pranet-test",
}
_CENTRE = re.compile(r"^data_(c\d+)$", re.IGNORECASE)
_DIGITS = re.compile(r"^\d+$")
_CP_DIGITS = re.compile(r"^cp(\d+)$", re.IGNORECASE)


def canonical_name(folder_name: str) -> str | None:
    """Return the canonical data set name for a folder name (``"Kvasir-SEG"`` -> ``"kvasir"``),
    or None when the name is not a known data set."""
    key = re.sub(r"[^a-z0-9]", "", folder_name.lower())
    return _ALIASES.get(key)


def detect_layout(root: str | os.PathLike) -> str:
    """Return the layout of the data set folder ``root`` (one of :data:`LAYOUTS`).

    Raises:
        DataError: ``root`` is not a folder or matches no layout.
    """
    folder = as_path(root)
    if not folder.is_dir():
        raise DataError(f"{folder}: data set folder not found; check the path")
    children = _child_dirs(folder)
    if (
        any(_CENTRE.match(name) for name in children)
        or (_CENTRE.match(folder.name) and _find_child(children, "images_"))
        or sequence_part(folder) is not None
    ):
        return "polypgen"
    if "etis-laribpolypdb" in children and "ground truth" in children:
        return "etis-original"
    if _clinicdb_folder(folder) is not None:
        return "clinicdb-original"
    if _images_masks_dirs(folder, children) is not None:
        return "images-masks"
    files = list_images(folder)
    stems = [path.stem for path in files]
    if any(numbered_mask_key(s) for s in stems) and any(_DIGITS.match(s) for s in stems):
        return "colondb-original"
    if files:
        return "flat" if any(s.lower().endswith("_mask") for s in stems) else "image-only"
    if _find_child(children, "images") and len(children) == 1:
        return "image-only"
    if any(_is_dataset_dir(folder / real) for real in children.values()):
        return "collection"
    raise DataError(
        f"{folder}: no known data set layout (images/ + masks/, Original/ + Ground Truth/, "
        f"data_C1..C6, N.tiff + pN.tiff, or image files); see docs/data.md"
    )


def open_dataset(
    root: str | os.PathLike,
    *,
    name: str | None = None,
    on_problem: str = "error",
    check_sizes_on_open: bool = True,
    check_files: bool | None = None,
    masks: str | os.PathLike | None = None,
) -> Dataset:
    """Open the data set in folder ``root``, whatever its layout.

    Opening lists the folders and reads only the image headers (a few bytes per file) to compare
    image and mask sizes, so a 1000-pair set opens in well under a second. Files whose header
    cannot be parsed are compared when read (:meth:`Sample.read`).

    Args:
        root: The data set's folder.
        name: The data set's name, which starts every sample id. Default: the canonical name of
            the folder (``Kvasir-SEG`` -> ``kvasir``), else the folder name in lower case.
        on_problem: ``"error"``: pairing problems (image without mask, mask without image, size
            mismatch, two files with one stem) raise a DataError that names them. ``"skip"``: the
            affected files are left out and one warning counts them.
        check_sizes_on_open: Compare image and mask sizes from the headers while opening.
        check_files: Read every file while opening and count a truncated or undecodable one as
            a pairing problem (:func:`endobench.data.pairing.check_files`). Default: only when
            skipping (``on_problem="skip"``), so that a skipped set holds only readable files.
        masks: A folder of masks for the images directly in ``root`` (``run --images --masks``):
            a mask pairs with the image of its stem, with or without ``_mask``; the layout is
            ``"images+masks"`` and the default name the folder's name.

    Returns:
        The :class:`Dataset`, samples sorted by id.

    Raises:
        DataError: No layout matches, the folder holds no images, or (``on_problem="error"``)
            there are pairing problems.
    """
    if on_problem not in ("error", "skip"):
        raise ValueError(f"on_problem must be 'error' or 'skip', not {on_problem!r}")
    folder = as_path(root)
    if masks is not None:
        layout, set_name = "images+masks", name or folder.name
        listing = _list_with_masks(folder, as_path(masks))
    else:
        layout, set_name = detect_layout(folder), name or default_name(folder)
    if layout == "collection":
        return _open_collection(folder, set_name, on_problem, check_sizes_on_open, check_files)
    if masks is None:
        listing = _LISTERS[layout](folder)
    if check_sizes_on_open:
        check_sizes(listing, folder)
    if on_problem == "skip" if check_files is None else check_files:
        check_readable(listing, folder)
    dataset = _finish(folder, set_name, layout, listing, on_problem)
    part = sequence_part(folder) if layout == "polypgen" else None
    return dataset.subset(part) if part else dataset


def default_name(folder: Path) -> str:
    """The name :func:`open_dataset` gives a folder when none is passed."""
    if _CENTRE.match(folder.name) or sequence_part(folder) is not None:
        return "polypgen"
    return canonical_name(folder.name) or folder.name.lower()


def _finish(folder: Path, set_name: str, layout: str, listing: Listing, on_problem: str) -> Dataset:
    problems = listing.problems
    if problems and on_problem == "error":
        raise DataError(
            f"{folder}: {len(problems)} pairing problem(s): {_preview(problems, 6)}; fix or remove "
            f"these files, or leave them out with --skip-problems"
        )
    if problems:
        message = f"{folder}: skipped {len(problems)} pairing problem(s): {_preview(problems, 6)}"
        warnings.warn(message, stacklevel=3)
    samples = [
        Sample(
            id=make_id(set_name, pair.subset, pair.key),
            name=pair.image.stem,
            image=pair.image,
            mask=pair.mask,
            negative=pair.negative,
            subset=pair.subset,
            sequence=sequence_of(pair.subset) if layout == "polypgen" else None,
        )
        for pair in listing.pairs
    ]
    if not samples:
        raise DataError(f"{folder}: no usable images found for layout {layout!r}; check the folder")
    samples.sort(key=lambda s: s.id)
    return Dataset(set_name, folder, layout, tuple(samples), tuple(problems))


def _open_collection(
    folder: Path, set_name: str, on_problem: str, sizes: bool, files: bool | None
) -> Dataset:
    samples: list[Sample] = []
    skipped: list[str] = []
    for _, real in sorted(_child_dirs(folder).items()):
        child = folder / real
        if not _is_dataset_dir(child):
            continue
        part = open_dataset(
            child, on_problem=on_problem, check_sizes_on_open=sizes, check_files=files
        )
        samples.extend(replace(s, subset="/".join(filter(None, (real, s.subset)))) for s in part)
        skipped.extend(part.skipped)
    samples.sort(key=lambda s: s.id)
    return Dataset(set_name, folder, "collection", tuple(samples), tuple(skipped))


def _is_dataset_dir(folder: Path) -> bool:
    try:
        return detect_layout(folder) != "collection"
    except DataError:
        return False


def _child_dirs(folder: Path) -> dict[str, str]:
    """Map lower-cased names of the visible sub-folders to their real names."""
    try:
        entries = list(os.scandir(folder))
    except OSError as err:
        raise DataError(f"{folder}: cannot be listed ({err.strerror}); check permissions") from None
    return {e.name.lower(): e.name for e in entries if e.is_dir() and not is_ignored_dir(e.name)}


def _find_child(children: dict[str, str], prefix: str) -> str | None:
    matches = sorted(real for low, real in children.items() if low.startswith(prefix))
    return matches[0] if len(matches) == 1 else None


def _images_masks_dirs(folder: Path, children: dict[str, str]) -> tuple[Path, Path] | None:
    images = children.get("images") or children.get("image") or _find_child(children, "images_")
    masks = children.get("masks") or children.get("mask") or _find_child(children, "masks_")
    if images and masks:
        return folder / images, folder / masks
    return None


def _clinicdb_folder(folder: Path) -> Path | None:
    children = _child_dirs(folder)
    if "original" in children and "ground truth" in children:
        return folder
    for variant in ("png", "tif", "tiff"):
        if variant in children:
            inner = folder / children[variant]
            grand = _child_dirs(inner)
            if "original" in grand and "ground truth" in grand:
                return inner
    return None


_strip_mask_suffix = strip_mask_suffix


def _strip_p(stem: str) -> str:
    return numbered_mask_key(stem) or stem


def _list_images_masks(folder: Path) -> Listing:
    images, masks = _images_masks_dirs(folder, _child_dirs(folder))
    return pair_folders(images, masks, folder, mask_key=_strip_mask_suffix)


def _list_clinicdb(folder: Path) -> Listing:
    inner = _clinicdb_folder(folder)
    children = _child_dirs(inner)
    return pair_folders(
        inner / children["original"], inner / children["ground truth"], folder, mask_key=str
    )


def _list_etis(folder: Path) -> Listing:
    children = _child_dirs(folder)
    return pair_folders(
        folder / children["etis-laribpolypdb"],
        folder / children["ground truth"],
        folder,
        mask_key=_strip_p,
    )


def _list_with_masks(folder: Path, masks: Path) -> Listing:
    for what, path in (("image", folder), ("mask", masks)):
        if not path.is_dir():
            raise DataError(f"{what} folder {path} not found; check --{what}s")
    return pair_folders(folder, masks, folder, mask_key=strip_mask_suffix)


def _list_colondb(folder: Path) -> Listing:
    # cpN.tiff are the release's polyp contours, companions of the masks pN.tiff: not data.
    files = [f for f in list_images(folder) if not _CP_DIGITS.match(f.stem)]
    frames = [f for f in files if numbered_mask_key(f.stem) is None]
    masks = [f for f in files if numbered_mask_key(f.stem) is not None]
    return pair_folders(frames, masks, folder, mask_key=_strip_p)


def _list_flat(folder: Path) -> Listing:
    files = list_images(folder)
    frames = [f for f in files if not f.stem.lower().endswith("_mask")]
    masks = [f for f in files if f.stem.lower().endswith("_mask")]
    return pair_folders(frames, masks, folder, mask_key=_strip_mask_suffix)


def _list_image_only(folder: Path) -> Listing:
    files = list_images(folder)
    if not files:
        files = list_images(folder / _child_dirs(folder)["images"])
    return pair_folders(files, None, folder)


def _list_polypgen(folder: Path) -> Listing:
    listing = Listing()
    centre = _CENTRE.match(folder.name)
    if centre:
        centres = {centre.group(1).upper(): folder}
    else:
        centres = {
            m.group(1).upper(): folder / real
            for low, real in _child_dirs(folder).items()
            if (m := _CENTRE.match(low))
        }
    for label, centre_dir in sorted(centres.items()):
        dirs = _images_masks_dirs(centre_dir, _child_dirs(centre_dir))
        if dirs is None:
            listing.problems.append(f"{centre_dir.name}: no images_*/masks_* folders")
            continue
        listing.extend(pair_folders(*dirs, folder, mask_key=_strip_mask_suffix, subset=label))
    listing.extend(list_sequence_data(folder))
    return listing


_LISTERS: dict[str, Callable[[Path], Listing]] = {
    "polypgen": _list_polypgen,
    "etis-original": _list_etis,
    "clinicdb-original": _list_clinicdb,
    "images-masks": _list_images_masks,
    "colondb-original": _list_colondb,
    "flat": _list_flat,
    "image-only": _list_image_only,
}
