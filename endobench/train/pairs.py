"""Training and validation pairs: which samples, how they are split, and how they are decoded.

Images are decoded and resized to the training side in DataLoader workers. By default the resized
pairs are then held in memory as uint8 (1450 pairs at 352 take about 0.7 GB), so every later epoch
costs no decoding at all; this matters on a CPU where decoding a 1920 x 1072 JPEG takes as long as a
fraction of a training step. Images are resized as the predictor resizes them at inference
(pixel-area averaging when shrinking, bilinear when enlarging). Masks are read with the ``> 127``
rule and resized the same way as 0/255 uint8, which gives the soft edges PraNet's
``transforms.Resize`` produces on its 8-bit masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from endobench.errors import ConfigError, DataError
from endobench.stopping import ignore_interrupts


@dataclass(frozen=True)
class Pair:
    """One training or validation pair: the stable sample id and where its files are.

    Attributes:
        id: The sample id (a crop of a positive image: ``<id>#crop``).
        image: The image file.
        mask: The mask file; None trains as all background (a negative frame or crop).
        sequence: The video sequence of a negative frame (negatives split by sequence), or None.
        crop: ``(x0, y0, x1, y1)``: train on this box of the image only (a negative crop taken
            away from the polyp, see :mod:`endobench.train.negative_mix`, or a negative frame's
            view), or None for the whole image.
        frame: ``(donor frame, its view box)``: train on the image framed in the donor
            (:func:`paste_in_frame`, :mod:`endobench.train.frame_context`), or None.
    """

    id: str
    image: Path
    mask: Path | None
    sequence: str | None = None
    crop: tuple[int, int, int, int] | None = None
    frame: tuple[Path, tuple[int, int, int, int]] | None = None


def resolve_pairs(
    names: Sequence[str], data_root: str | Path | None = None, on_problem: str = "error"
) -> tuple[list[Pair], list[str]]:
    """Turn data set names or folders into pairs with ground truth.

    Args:
        names: Registry names (``kvasir:train``) or folders, in order; duplicates by id are dropped.
        data_root: Where named data sets live (else the data layer's default).
        on_problem: The data layer's pairing rule: ``"error"`` refuses a set with problems,
            ``"skip"`` (``--skip-problems``) leaves out and lists them, unreadable files included.

    Returns:
        The pairs and, per input, a short description (``name (folder NAME): N pairs``) for the metadata.

    Raises:
        DataError: When a data set has images without ground truth.
    """
    from endobench.data import load_dataset, open_dataset

    pairs: list[Pair] = []
    seen: set[str] = set()
    described: list[str] = []
    for name in names:
        folder = Path(name).expanduser()
        # Every file is checked before training starts: a truncated one is refused (or skipped).
        if folder.is_dir():
            dataset = open_dataset(folder, on_problem=on_problem, check_files=True)
        else:
            dataset = load_dataset(name, data_root, on_problem=on_problem, check_files=True)
        count = 0
        for sample in dataset.samples:
            if sample.mask is None and not getattr(sample, "negative", False):
                raise DataError(
                    f"{sample.image}: data set {name!r} has images without masks; training needs "
                    "ground truth, so give a data set with masks"
                )
            if sample.id in seen:
                continue
            seen.add(sample.id)
            pairs.append(
                Pair(sample.id, Path(sample.image), Path(sample.mask) if sample.mask else None)
            )
            count += 1
        # The folder's own name only: metadata travels with weights, machine paths must not.
        where = Path(getattr(dataset, "root", folder)).name
        label = folder.name if folder.is_dir() else name
        described.append(f"{label} (folder {where}): {count} pairs")
    if not pairs:
        raise DataError(
            f"no training pairs found in {', '.join(names)}; check --data and --data-root"
        )
    return pairs, described


def split_pairs(
    pairs: Sequence[Pair],
    *,
    folds: int = 0,
    fold: int | None = None,
    val_fraction: float | None = None,
    seed: int = 0,
) -> list[tuple[int | None, list[Pair], list[Pair]]]:
    """Split pairs into (fold, train, val) runs.

    ``folds >= 2``: k-fold cross-validation through the data layer's ``kfold`` (stable by sample id);
    every fold, or only ``fold``. Otherwise, ``val_fraction`` holds back that share of the pairs
    (chosen by a seeded permutation of the ids sorted, so independent of input order); a ``None``
    or 0 fraction gives no validation pairs from the training data.
    """
    if folds >= 2:
        from endobench.data import kfold

        if fold is not None and not 0 <= fold < folds:
            raise ConfigError(
                f"--fold {fold} is out of range for --folds {folds}; use 0..{folds - 1}"
            )
        splits = kfold(list(pairs), k=folds, seed=seed)
        chosen = range(folds) if fold is None else [fold]
        return [(k, list(splits[k][0]), list(splits[k][1])) for k in chosen]
    if fold is not None:
        raise ConfigError(f"--fold {fold} needs --folds K (K >= 2)")
    if not val_fraction:
        return [(None, list(pairs), [])]
    if not 0 < val_fraction < 1:
        raise ConfigError(f"--val-fraction {val_fraction} must lie between 0 and 1 (e.g. 0.1)")
    ordered = sorted(pairs, key=lambda pair: pair.id)
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_val = max(1, round(val_fraction * len(ordered)))
    val_idx = set(order[:n_val].tolist())
    train = [p for i, p in enumerate(ordered) if i not in val_idx]
    val = [p for i, p in enumerate(ordered) if i in val_idx]
    return [(None, train, val)]


def load_resized_pair(pair: Pair, size: int, keep_original_mask: bool = False):
    """Decode one pair and resize it to ``size`` x ``size``.

    Returns:
        ``(image uint8 SxSx3, mask uint8 SxS in 0..255)``, plus the original bool mask when
        ``keep_original_mask``.
    """
    from endobench.data import read_image, read_mask

    image = read_image(pair.image)
    if pair.crop is not None:
        x0, y0, x1, y1 = pair.crop
        image = np.ascontiguousarray(image[y0:y1, x0:x1])
    if pair.mask is not None:
        mask = read_mask(pair.mask, truth=True)
    else:
        mask = np.zeros(image.shape[:2], dtype=bool)
    if mask.shape != image.shape[:2]:
        raise DataError(
            f"{pair.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
            f"{image.shape[1]}x{image.shape[0]}; fix or remove the pair"
        )
    if pair.frame is not None:
        donor, box = pair.frame
        image, mask = paste_in_frame(image, mask, read_image(donor), box)
    image_s = resize_image(image, size)
    mask_s = resize_image(mask.astype(np.uint8) * 255, size)
    if keep_original_mask:
        return image_s, mask_s, mask
    return image_s, mask_s


def paste_in_frame(
    image: np.ndarray, mask: np.ndarray, donor: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The donor frame with ``image`` stretched into its view box, and the mask placed alike.

    Args:
        image: H x W x 3 uint8 positive image.
        mask: H x W bool mask of the image.
        donor: The donor frame (uint8, 3 channels).
        box: The donor's view box.

    Returns:
        The framed image (the donor's size) and its bool mask.
    """
    x0, y0, x1, y1 = box
    size = (x1 - x0, y1 - y0)
    shrink = image.shape[0] * image.shape[1] > size[0] * size[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    framed = donor.copy()
    framed[y0:y1, x0:x1] = cv2.resize(image, size, interpolation=interpolation)
    placed = cv2.resize(mask.astype(np.uint8) * 255, size, interpolation=interpolation)
    framed_mask = np.zeros(donor.shape[:2], dtype=bool)
    framed_mask[y0:y1, x0:x1] = placed > 127
    return framed, framed_mask


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an H x W x C uint8 array to ``size`` x ``size`` as the predictor does at inference.

    Shrinking averages pixels (``INTER_AREA``), enlarging interpolates bilinearly: the rule of
    :class:`endobench.predictor.Preprocess`, so a model trains on the inputs it will be run on.
    """
    shrink = image.shape[0] * image.shape[1] > size * size
    return cv2.resize(
        image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )


class ResizedPairs(TorchDataset):
    """Pairs decoded and resized on access (used inside DataLoader workers)."""

    def __init__(self, pairs: Sequence[Pair], size: int, keep_original_mask: bool = False):
        self.pairs = list(pairs)
        self.size = size
        self.keep_original_mask = keep_original_mask

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        return load_resized_pair(self.pairs[index], self.size, self.keep_original_mask)


class CachedPairs(TorchDataset):
    """Resized pairs held in memory as uint8 arrays (optionally with the original masks)."""

    def __init__(
        self, images: np.ndarray, masks: np.ndarray, originals: list[np.ndarray] | None = None
    ):
        self.images = images
        self.masks = masks
        self.originals = originals

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        if self.originals is not None:
            return self.images[index], self.masks[index], self.originals[index]
        return self.images[index], self.masks[index]


class DeviceCachedPairs(TorchDataset):
    """Resized pairs held as uint8 tensors on the training device (a GPU): a batch is one
    index operation there, with no decoding process and no host-to-device copy per step."""

    def __init__(self, cached: CachedPairs, device: torch.device):
        self.images = torch.from_numpy(cached.images).to(device)
        self.masks = torch.from_numpy(cached.masks).to(device)
        self.originals = cached.originals
        self.device = device

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batches: list[list[int]]):
        """Yield ``(images, masks[, originals])`` for each index batch, indexed on the device."""
        for batch in batches:
            index = torch.as_tensor(batch, device=self.device)
            if self.originals is not None:
                yield self.images[index], self.masks[index], [self.originals[i] for i in batch]
            else:
                yield self.images[index], self.masks[index]


def _collate_keep_originals(items):
    images = torch.from_numpy(np.stack([item[0] for item in items]))
    masks = torch.from_numpy(np.stack([item[1] for item in items]))
    if len(items[0]) == 3:
        return images, masks, [item[2] for item in items]
    return images, masks


def cache_pairs(
    pairs: Sequence[Pair],
    size: int,
    *,
    workers: int = 2,
    keep_original_mask: bool = False,
    progress=None,
) -> CachedPairs:
    """Decode and resize every pair once (in ``workers`` processes) and keep them in memory.

    Args:
        pairs: What to load.
        size: Side to resize to.
        workers: DataLoader worker processes (0: in this process).
        keep_original_mask: Also keep each full-size bool mask (validation scores at full size).
        progress: Optional callable ``advance(n)`` called after each chunk.
    """
    images = np.empty((len(pairs), size, size, 3), dtype=np.uint8)
    masks = np.empty((len(pairs), size, size), dtype=np.uint8)
    originals: list[np.ndarray] | None = [] if keep_original_mask else None
    loader = DataLoader(
        ResizedPairs(pairs, size, keep_original_mask),
        batch_size=8,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate_keep_originals,
        generator=torch.Generator(),  # leaves the global generator alone (exact resume)
        worker_init_fn=ignore_interrupts if workers else None,  # Ctrl-C is the trainer's
    )
    start = 0
    for batch in loader:
        n = len(batch[0])
        images[start : start + n] = batch[0].numpy()
        masks[start : start + n] = batch[1].numpy()
        if originals is not None:
            originals.extend(batch[2])
        start += n
        if progress is not None:
            progress(n)
    return CachedPairs(images, masks, originals)


def batch_loader(source: TorchDataset, batches: list[list[int]], workers: int):
    """An iterable of uint8 ``(images BxSxSx3, masks BxSxS[, originals])`` for the given index
    batches: a DataLoader, or the device cache's own indexing."""
    if isinstance(source, DeviceCachedPairs):
        return source.batches(batches)
    in_memory = isinstance(source, CachedPairs)
    return DataLoader(
        source,
        batch_sampler=batches,
        num_workers=0 if in_memory else workers,
        collate_fn=_collate_keep_originals,
        worker_init_fn=None if in_memory or not workers else ignore_interrupts,
        # A DataLoader draws its workers' base seed from this generator; a private one keeps the
        # global generator (dropout, drop-path) on the same sequence whether or not a run resumed.
        generator=torch.Generator(),
    )
