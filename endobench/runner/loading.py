"""Decoding and preprocessing in DataLoader workers, overlapped with inference in the main process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class ImageItems(Dataset):
    """Items ``(set name, image name, image file)``; each yields its preprocessed tensor and size.

    Args:
        items: What to load, in order.
        preprocess: ``HxWx3 uint8 RGB -> 3xSxS float tensor`` (the predictor's preprocessing).
    """

    def __init__(
        self,
        items: Sequence[tuple[str, str, str]],
        preprocess: Callable[[np.ndarray], torch.Tensor],
    ):
        self.items = list(items)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        from endobench.data.readers import read_image

        set_name, name, path = self.items[index]
        image = read_image(Path(path))
        tensor = self.preprocess(image)
        return {
            "index": index,
            "set": set_name,
            "name": name,
            "height": int(image.shape[0]),
            "width": int(image.shape[1]),
            "tensor": tensor,
        }


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the tensors of a batch; keep the other fields as lists."""
    out = {key: [item[key] for item in batch] for key in batch[0] if key != "tensor"}
    out["tensor"] = torch.stack([item["tensor"] for item in batch])
    return out


def make_loader(
    items: ImageItems, batch_size: int, num_workers: int, pin_memory: bool
) -> DataLoader:
    """Return the DataLoader of a run (order kept; ``num_workers=0`` loads in the main process)."""
    return DataLoader(
        items,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        prefetch_factor=2 if num_workers > 0 else None,
        persistent_workers=False,
        worker_init_fn=_start_worker if num_workers > 0 else None,
    )


#: How much lower than the forward pass's the priority of decoding and writing is (``os.nice``):
#: when they want more than the cores torch leaves, the forward pass keeps its own.
HELPER_NICENESS = 2


def _start_worker(worker: int) -> None:
    """A decoding worker: lower priority, and Ctrl-C left to the run's process."""
    from endobench.stopping import ignore_interrupts

    ignore_interrupts()
    lower_priority(worker)


def lower_priority(_worker: int | None = None) -> None:
    """Lower the calling worker process's (or, on Linux, thread's) priority by ``HELPER_NICENESS``."""
    import os
    import threading

    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), current + HELPER_NICENESS)
    except (AttributeError, OSError):  # no priorities here, or not allowed: run as is
        pass
