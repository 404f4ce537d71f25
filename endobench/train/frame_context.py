"""Context swaps in negative-aware training, so that a frame's surroundings never tell its label.

Real negative frames come from videos: PolypGen's are 1920 x 1080, with the round or octagonal
endoscopic view in the middle, black borders, a side panel with text and scope graphics. The
positive training images (Kvasir-SEG, CVC-ClinicDB) are stills cropped close to the view. Trained on
both as they are, a network learns the cheapest rule that separates them, "wide frame with a side
panel means no polyp", and then misses polyps in video frames. Two swaps break that rule:

- **View crops.** Every real negative training frame also trains cropped to its endoscopic view
  (:func:`view_box`), so a polyp-free frame also looks like a cropped still. View crops join the
  real frames' share of each batch.
- **Framed positives.** Every positive training image also exists framed in a real negative
  training frame (the *donor*, chosen by ``sha256("<seed>:<id>")``): the donor's view box is
  replaced by the positive image stretched to the box, and the mask is placed the same way. In
  each epoch, a share of the positive slots (``Recipe.frame_share``) takes the framed version
  instead, drawn per epoch and process from the seed. A polyp then also appears in a video frame.

Donors are training negatives only, never validation frames. A frame whose view fills nearly all of
it (less than :data:`MIN_CONTEXT` of its area outside the view box) has no context to swap: it is
neither cropped nor a donor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from endobench.train.pairs import Pair

VIEW_LEVEL = 24
VIEW_SHARE = 0.5
MIN_CONTEXT = 0.1

Box = tuple[int, int, int, int]


def view_box(image: np.ndarray) -> Box | None:
    """The bounding box ``(x0, y0, x1, y1)`` (end-exclusive) of a frame's endoscopic view.

    A pixel is lit when its brightest channel exceeds :data:`VIEW_LEVEL`. The view's columns are
    those lit over at least :data:`VIEW_SHARE` of their height, which leaves out borders, text and
    side-panel graphics (they are short); its rows are those lit over at least that share of the
    view's columns.

    Returns:
        The box, or None when no column qualifies or the box leaves less than
        :data:`MIN_CONTEXT` of the frame outside it.
    """
    lit = image.max(axis=2) > VIEW_LEVEL
    columns = np.flatnonzero(lit.mean(axis=0) >= VIEW_SHARE)
    if len(columns) == 0:
        return None
    x0, x1 = int(columns[0]), int(columns[-1]) + 1
    rows = np.flatnonzero(lit[:, x0:x1].mean(axis=1) >= VIEW_SHARE)
    if len(rows) == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    height, width = lit.shape
    if (x1 - x0) * (y1 - y0) > (1 - MIN_CONTEXT) * height * width:
        return None
    return x0, y0, x1, y1


def view_boxes(
    negatives: Sequence[Pair], advance: Callable[[int], None] | None = None
) -> dict[str, Box]:
    """The view box of every negative frame that has context around its view, by pair id.

    Args:
        negatives: Real negative training frames (each is decoded once).
        advance: Progress callback, called with 1 after each frame.
    """
    from endobench.data import read_image

    boxes: dict[str, Box] = {}
    for pair in negatives:
        box = view_box(read_image(pair.image))
        if box is not None:
            boxes[pair.id] = box
        if advance is not None:
            advance(1)
    return boxes


def view_crops(negatives: Sequence[Pair], boxes: dict[str, Box]) -> list[Pair]:
    """A ``<id>#view`` pair, cropped to the view, for every negative frame with a box."""
    return [
        Pair(f"{p.id}#view", p.image, None, sequence=p.sequence, crop=boxes[p.id])
        for p in negatives
        if p.id in boxes
    ]


def framed_positives(
    positives: Sequence[Pair], donors: Sequence[Pair], boxes: dict[str, Box], seed: int
) -> list[Pair]:
    """One ``<id>#framed`` pair per positive, framed in a donor chosen from the seed and the id.

    Args:
        positives: Positive training pairs, in the training source's order.
        donors: Real negative training frames; those with a box in ``boxes`` can frame.
        boxes: View boxes by donor id (:func:`view_boxes`).
        seed: The run's seed.

    Returns:
        The framed pairs in the order of ``positives``; empty when no donor has a box.
    """
    usable = [d for d in donors if d.id in boxes]
    if not usable:
        return []
    framed = []
    for pair in positives:
        digest = hashlib.sha256(f"{seed}:{pair.id}:frame".encode()).digest()
        donor = usable[int.from_bytes(digest[:8], "little") % len(usable)]
        framed.append(
            Pair(f"{pair.id}#framed", pair.image, pair.mask, frame=(donor.image, boxes[donor.id]))
        )
    return framed


def framed_order(
    order: list[int], framed_start: int, share: float, key: tuple[int, ...]
) -> list[int]:
    """Replace a seeded ``share`` of the positive indices by their framed versions.

    Args:
        order: Positive indices of one epoch and process.
        framed_start: Index of the first framed pair (positive ``i`` is framed at
            ``framed_start + i``).
        share: The recipe's ``frame_share``.
        key: Seeds the draw (the run's seed, the epoch, the process).
    """
    swap = np.random.default_rng(list(key)).random(len(order)) < share
    return [framed_start + i if s else i for i, s in zip(order, swap.tolist(), strict=True)]
