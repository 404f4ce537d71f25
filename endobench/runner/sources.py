"""The run's inputs: named data sets and folders, turned into named sets of samples.

Each ``--dataset`` or ``--images`` becomes one *set*, whose predictions go to ``<set>_pred/``. A
named data set keeps its name with ``/`` turned into ``-`` (``polypgen/C1`` -> ``polypgen-C1``); an
image folder keeps its folder name, so the challenge's ``EndoCV_DATA1`` gives ``EndoCV_DATA1_pred``.

``--negatives DIR`` is a set of polyp-free frames (:func:`endobench.data.open_negatives`): scored
against all-background truths. ``--positives DIR`` is a set of polyp frames without masks: no
EndoCV scores, only the frame-level sensitivity. A PolypGen negative folder is named after its
data set (``polypgen-negative``), any other folder after itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from endobench.data.dataset import Dataset
from endobench.data.inputs import open_folder, open_named
from endobench.errors import ConfigError, DataError
from endobench.io import sha256_file


@dataclass(frozen=True)
class InputSet:
    """One set of a run: its output name, where it came from, and its samples."""

    name: str
    source: str
    dataset: Dataset
    positive_frames: bool = False  # --positives: every frame shows a polyp (no masks)

    @property
    def has_truth(self) -> bool:
        """Whether every sample has ground truth (a mask or a known negative frame)."""
        return all(s.has_truth for s in self.dataset.samples)

    @property
    def has_frame_truth(self) -> bool:
        """Whether every frame is known to show a polyp or not (detection figures apply)."""
        return self.has_truth or self.positive_frames


def open_frames(folder: str, kind: str, skip_problems: bool = False) -> InputSet:
    """Open ``--negatives`` (``kind="negative"``) or ``--positives`` (``"positive"``) as a set.

    Every file is read first, as for the other inputs: an unreadable one is refused, or left out
    with ``skip_problems``.

    Raises:
        DataError: The folder is missing, holds no images, holds masks, or (without
            ``skip_problems``) has unreadable files.
    """
    from endobench.data import open_dataset, open_negatives

    path = Path(folder).resolve()
    option = f"--{kind}s"
    if not path.is_dir():
        raise DataError(f"{path}: folder not found; check {option}")
    on_problem = "skip" if skip_problems else "error"
    if kind == "negative":
        dataset = open_negatives(path, on_problem=on_problem, check_files=True)
        label = dataset.name if dataset.layout == "polypgen" else path.name
        return InputSet(set_name_for(label), str(path), dataset)
    dataset = open_dataset(path, name=path.name, on_problem=on_problem, check_files=True)
    with_masks = [s for s in dataset if s.mask is not None or s.negative]
    if with_masks:
        raise DataError(
            f"{path}: holds truth ({with_masks[0].id}); {option} takes polyp frames without "
            "masks: pass this folder as --images"
        )
    return InputSet(set_name_for(path.name), str(path), dataset, positive_frames=True)


def set_name_for(text: str) -> str:
    """Return a folder-safe set name (``polypgen/C1`` -> ``polypgen-C1``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "set"


def resolve_inputs(
    datasets: list[str],
    images: list[str],
    masks: list[str],
    data_root: str | None,
    skip_problems: bool = False,
    negatives: list[str] = (),
    positives: list[str] = (),
) -> list[InputSet]:
    """Open every input of a run, in the order given (``skip_problems``: ``--skip-problems``);
    ``negatives``/``positives`` are ``--negatives``/``--positives`` folders (:func:`open_frames`).

    Raises:
        ConfigError: Two inputs would write to the same ``<set>_pred`` folder.
        DataError: An input cannot be opened.
    """
    sets: list[InputSet] = []
    for name in datasets:
        sets.append(InputSet(set_name_for(name), name, open_named(name, data_root, skip_problems)))
    for index, folder in enumerate(images):
        dataset = open_folder(folder, masks[index] if masks else None, skip_problems)
        path = Path(folder).resolve()
        # A bare images/ folder is named after its parent (Kvasir-SEG/images -> Kvasir-SEG).
        label = path.parent.name if path.name.lower() == "images" else path.name
        sets.append(InputSet(set_name_for(label), str(path), dataset))
    sets += [open_frames(folder, "negative", skip_problems) for folder in negatives]
    sets += [open_frames(folder, "positive", skip_problems) for folder in positives]
    names = [s.name for s in sets]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ConfigError(f"two inputs would both write {clashes[0]}_pred; pass each data set once")
    for input_set in sets:
        names_in_set = [s.name for s in input_set.dataset.samples]
        if len(set(names_in_set)) != len(names_in_set):
            dup = sorted({n for n in names_in_set if names_in_set.count(n) > 1})
            raise DataError(
                f"{input_set.source}: image names repeat across subsets ({', '.join(dup[:5])}); "
                "the submission needs one <name>_mask.jpg per name: run each subset as its own --dataset"
            )
    return sets


def build_manifest(
    sets: list[InputSet], progress: Callable[[int], Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Describe every input image: id, name, files, original size (from its header) and sha256.

    Args:
        sets: The run's sets.
        progress: Called with 1 after each image (for a progress bar).

    Returns:
        ``{set name: [entry, ...]}`` in sample order. ``height``/``width`` are None where the
        header could not be parsed; the runner fills them after decoding.
    """
    from endobench.data.headers import image_size

    manifest: dict[str, list[dict[str, Any]]] = {}
    for input_set in sets:
        rows = []
        for sample in input_set.dataset.samples:
            size = image_size(sample.image)
            rows.append(
                {
                    "id": sample.id,
                    "name": sample.name,
                    "file": str(Path(sample.image).resolve()),
                    "mask": str(Path(sample.mask).resolve()) if sample.mask is not None else None,
                    "negative": bool(sample.negative),
                    "height": size[0] if size else None,
                    "width": size[1] if size else None,
                    "sha256": sha256_file(sample.image),
                }
            )
            if progress is not None:
                progress(1)
        manifest[input_set.name] = rows
    return manifest
