"""PolypGen's sequence data: ``sequenceData/positive/<seq>/`` and ``sequenceData/negativeOnly/<seq>/``.

PolypGen ships video sequences beside its ``data_C1`` ... ``data_C6`` centres. The sequence folders
are recognised on their own too, without centre siblings, so that a copy holding only the negative
frames (or only one sequence) opens as PolypGen, with the ids it has inside the full release:

=====================================  ========================  ==============================
folder opened                          subsets of its samples    data set name (default)
=====================================  ========================  ==============================
any folder holding ``sequenceData/``   ``positive/<seq>``,       ``polypgen``
(or ``sequenceData`` itself)           ``negative/<seq>``
``sequenceData/negativeOnly``          ``negative/<seq>``        ``polypgen/negative``
``sequenceData/negativeOnly/<seq>``    ``negative/<seq>``        ``polypgen/negative/<seq>``
``sequenceData/positive``              ``positive/<seq>``        ``polypgen/positive``
``sequenceData/positive/<seq>``        ``positive/<seq>``        ``polypgen/positive/<seq>``
=====================================  ========================  ==============================

A folder named ``negativeOnly`` is recognised whatever its parent; ``positive`` and a sequence
folder need their PolypGen parents (``sequenceData/positive/<seq>``,
``.../negativeOnly/<seq>``). Every image anywhere below a negative sequence folder is a negative
frame; a positive sequence holds ``images_*/`` and ``masks_*/`` (``<stem>_mask.jpg``).
"""

from __future__ import annotations

import os
from pathlib import Path

from endobench.data.pairing import Listing, list_images, list_images_recursive, pair_folders

_SEQUENCE_DATA = "sequencedata"
_NEGATIVE_ONLY = "negativeonly"


def sequence_part(folder: Path) -> str | None:
    """Return what part of PolypGen's sequence data ``folder`` is, or None when it is none.

    Returns:
        ``""`` for a folder holding ``sequenceData/`` (or ``sequenceData`` itself),
        ``"negative"`` / ``"positive"`` for ``negativeOnly`` / ``positive``, and
        ``"negative/<seq>"`` / ``"positive/<seq>"`` for one sequence folder.
    """
    name, parent, grand = (p.name.lower() for p in (folder, folder.parent, folder.parent.parent))
    if name == _NEGATIVE_ONLY or (_is_negative(name) and parent == _SEQUENCE_DATA):
        return "negative"
    if name == "positive" and parent == _SEQUENCE_DATA:
        return "positive"
    if parent == _NEGATIVE_ONLY or (_is_negative(parent) and grand == _SEQUENCE_DATA):
        return f"negative/{folder.name}"
    if parent == "positive" and grand == _SEQUENCE_DATA:
        return f"positive/{folder.name}"
    return "" if sequences_folder(folder) is not None else None


def sequences_folder(folder: Path) -> Path | None:
    """Return the ``sequenceData`` folder of a PolypGen root (``folder`` itself when it is one),
    or None when it has none that holds ``positive/`` or ``negative*/``."""
    if folder.name.lower() == _SEQUENCE_DATA and _holds_sequences(folder):
        return folder
    real = _subdirs(folder).get(_SEQUENCE_DATA)
    if real is not None and _holds_sequences(folder / real):
        return folder / real
    return None


def sequence_of(subset: str) -> str | None:
    """Return the sequence named by a PolypGen subset (``"negative/seq1_neg"`` -> ``"seq1_neg"``)."""
    kind, _, sequence = subset.partition("/")
    return (sequence or None) if kind in ("negative", "positive") else None


def list_sequence_data(folder: Path) -> Listing:
    """List the sequence frames of a PolypGen folder (see the module docstring for which).

    Negative frames become image-only pairs marked negative; positive frames pair with their masks.
    Subsets are ``negative/<seq>`` and ``positive/<seq>`` whatever folder is opened (loose images
    directly in ``negativeOnly`` get the subset ``negative``).
    """
    part = sequence_part(folder)
    listing = Listing()
    if part is None:
        return listing
    kind, _, sequence = part.partition("/")
    if sequence:
        add = _add_negative_sequence if kind == "negative" else _add_positive_sequence
        add(folder, folder, listing)
    elif kind == "negative":
        _add_negatives(folder, folder, listing)
    elif kind == "positive":
        _add_positives(folder, folder, listing)
    else:
        sequences = sequences_folder(folder)
        for low, real in sorted(_subdirs(sequences).items()):
            if low == "positive":
                _add_positives(sequences / real, folder, listing)
            elif _is_negative(low):
                _add_negatives(sequences / real, folder, listing)
    return listing


def _add_negatives(negatives: Path, root: Path, listing: Listing) -> None:
    for _, real in sorted(_subdirs(negatives).items()):
        _add_negative_sequence(negatives / real, root, listing)
    loose = list_images(negatives)
    if loose:
        listing.extend(pair_folders(loose, None, root, subset="negative", negative=True))


def _add_negative_sequence(sequence: Path, root: Path, listing: Listing) -> None:
    files = list_images_recursive(sequence)
    listing.extend(
        pair_folders(files, None, root, subset=f"negative/{sequence.name}", negative=True)
    )


def _add_positives(positives: Path, root: Path, listing: Listing) -> None:
    for _, real in sorted(_subdirs(positives).items()):
        _add_positive_sequence(positives / real, root, listing)


def _add_positive_sequence(sequence: Path, root: Path, listing: Listing) -> None:
    children = _subdirs(sequence)
    images = [real for low, real in children.items() if low.startswith("images")]
    masks = [real for low, real in children.items() if low.startswith("masks")]
    if len(images) != 1 or len(masks) != 1:
        return
    listing.extend(
        pair_folders(
            sequence / images[0],
            sequence / masks[0],
            root,
            mask_key=_strip_mask_suffix,
            subset=f"positive/{sequence.name}",
        )
    )


def _holds_sequences(folder: Path) -> bool:
    return any(low == "positive" or _is_negative(low) for low in _subdirs(folder))


def _is_negative(name: str) -> bool:
    return name.startswith("negative")


def _strip_mask_suffix(stem: str) -> str:
    return stem[: -len("_mask")] if stem.lower().endswith("_mask") else stem


def _subdirs(folder: Path) -> dict[str, str]:
    """Map lower-cased names of the visible sub-folders to their real names ({} when unlistable)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return {}
    return {e.name.lower(): e.name for e in entries if e.is_dir() and not e.name.startswith(".")}
