"""Frames that show a polyp but have no mask: frame-level (multiple-instance) training.

A frame known to show a polyp somewhere ("weak positive", ``--weak-positives DIR``) gives no
pixel truth, only a frame-level label. It trains with a multiple-instance objective: the frame's
score is the mean of its top :data:`TOP_SHARE` logits (:func:`frame_logit`), and a binary
cross-entropy pulls it towards 1. Every negative of the batch (real polyp-free frames, their view
crops, crops of positives away from the polyp) gets the same frame-level term towards 0 on top of
its pixel loss, so the two kinds of frames are separated where it matters: at the pixels the model
is most sure of. Positives with masks train with the structure loss only.

A top share rather than the single maximum spreads the gradient over a small region (one pixel's
gradient is noisy and can be met by a single speck), and unlike the mean it does not ask a small
polyp to fill the frame. The weak frames of PolypGen are named ``centre_X_imgN.jpg``; their centre
is their group (:attr:`~endobench.train.pairs.Pair.sequence`), recorded with the weights.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from endobench.errors import DataError
from endobench.train.pairs import Pair

TOP_SHARE = 0.01
"""Share of a map's pixels whose mean logit is the frame's score."""

MASKED, NEGATIVE, WEAK = -1.0, 0.0, 1.0
"""Per-image kinds of a training batch: a positive with a mask (pixel loss only), a negative
(pixel loss and frame-level target 0), a weak positive (frame-level target 1 only)."""

_CENTRE = re.compile(r"^(centre|center)_([A-Za-z0-9]+)_", re.IGNORECASE)


def frame_group(path: Path) -> str:
    """The group of a weak frame: ``centre_X`` from PolypGen's ``centre_X_imgN`` names, else the
    name of its folder."""
    match = _CENTRE.match(path.name)
    return f"centre_{match.group(2)}" if match else path.parent.name


def resolve_weak_frames(folders: Sequence[str | Path]) -> tuple[list[Pair], list[str]]:
    """Every image under the folders as a mask-less weak-positive pair, with its group.

    Returns:
        The pairs (duplicate ids dropped; ids get a ``weak:`` prefix so they never collide with
        a data set's ids) and, per folder, ``"NAME: N frames (centre_A 20, ...)"`` (the folder's
        own name only: metadata travels with weights, machine paths must not).

    Raises:
        DataError: A folder that does not exist or holds no image.
    """
    from endobench.data.readers import IMAGE_SUFFIXES

    pairs: list[Pair] = []
    seen: set[str] = set()
    described: list[str] = []
    for folder in folders:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise DataError(f"{folder}: not a folder; give a folder of frames that show a polyp")
        files = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        new = []
        for path in files:
            sample_id = f"weak:{path.relative_to(root).with_suffix('').as_posix()}"
            if sample_id not in seen:
                seen.add(sample_id)
                new.append(Pair(sample_id, path, None, sequence=frame_group(path)))
        if not new:
            raise DataError(f"{folder}: no image files; give a folder of frames that show a polyp")
        groups: dict[str, int] = {}
        for pair in new:
            groups[pair.sequence or ""] = groups.get(pair.sequence or "", 0) + 1
        counts = ", ".join(f"{name} {n}" for name, n in sorted(groups.items()))
        described.append(f"{root.name}: {len(new)} frames ({counts})")
        pairs.extend(new)
    return pairs, described


@dataclass(frozen=True)
class KindSplit:
    """A batch split by kind, decided on the host so the loss needs no device synchronisation.

    Attributes:
        kinds: Each image's kind, as given.
        pixel: Indices (on the device) of the images with a pixel loss, or None for all of them.
        framed: Indices of the images with a frame-level target (negatives and weak positives).
        targets: Their frame-level targets (0 or 1), on the device.
    """

    kinds: tuple[float, ...]
    pixel: torch.Tensor | None
    framed: torch.Tensor
    targets: torch.Tensor

    @classmethod
    def of(cls, kinds: Sequence[float], device: torch.device) -> KindSplit:
        """Split ``kinds`` (one per image of the batch) for a batch on ``device``."""
        pixel = [i for i, kind in enumerate(kinds) if kind != WEAK]
        framed = [i for i, kind in enumerate(kinds) if kind >= 0]
        return cls(
            tuple(kinds),
            None if len(pixel) == len(kinds) else torch.tensor(pixel, device=device),
            torch.tensor(framed, device=device, dtype=torch.long),
            torch.tensor([kinds[i] for i in framed], device=device),
        )


def frame_logit(logits: torch.Tensor, top_share: float = TOP_SHARE) -> torch.Tensor:
    """Each image's frame-level logit: the mean of its top ``top_share`` pixel logits.

    Args:
        logits: Bx1xHxW raw scores.
        top_share: Share of the pixels averaged (at least one pixel).

    Returns:
        A tensor of B logits.
    """
    flat = logits.float().flatten(1)
    k = max(1, int(round(flat.shape[1] * top_share)))
    return flat.topk(k, dim=1).values.mean(dim=1)


def frame_loss(
    outputs: Sequence[torch.Tensor] | torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Frame-level binary cross-entropy summed over every side output, mean over the images.

    Args:
        outputs: The model's Bx1xhxw logit maps (side outputs of any size), or one tensor.
        targets: B frame labels in {0, 1}.
    """
    if isinstance(outputs, torch.Tensor):
        outputs = [outputs]
    targets = targets.float()
    total = targets.new_zeros(())
    for logits in outputs:
        total = total + F.binary_cross_entropy_with_logits(frame_logit(logits), targets)
    return total
