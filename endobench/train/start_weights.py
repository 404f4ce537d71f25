"""A run started from trained weights (``--init``): what it records about them, and the check that
its validation images are ones those weights never trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from endobench.train.provenance import check_validation_ids


def check_start_split(start: tuple[dict, dict], path: Path | None, val_ids: list[str]) -> None:
    """Refuse validation images the starting weights were trained on.

    The check itself is :func:`endobench.train.provenance.check_validation_ids`: weights that
    record (or let endobench derive) the ids they trained on refuse exactly those; older records
    that list only their held-back images refuse any other image; weights without a record pass.

    Args:
        start: ``(state_dict, metadata)`` of the starting weights.
        path: Their file, for the message.
        val_ids: Sample ids of this run's validation images.

    Raises:
        ConfigError: When some validation images were training images of the starting weights.
    """
    check_validation_ids(start[1], path, val_ids)


def describe_start(start: tuple[dict, dict]) -> dict[str, Any]:
    """What the run records about its starting weights: file name, sha256 and their training."""
    metadata = start[1]
    training = training_record(metadata)
    kept = ("recipe", "seed", "epochs_trained", "best_epoch", "seconds", "init")
    return {
        "file": Path(metadata.get("path", "")).name,
        "sha256": metadata.get("sha256"),
        "model": metadata.get("model"),
        "training": {key: training[key] for key in kept if key in training},
        "validation_metrics": metadata.get("validation_metrics"),
    }


def training_record(metadata: dict[str, Any]) -> dict[str, Any]:
    """The ``training`` metadata of a checkpoint, or {} where there is none (or only words)."""
    training = metadata.get("training")
    return training if isinstance(training, dict) else {}
