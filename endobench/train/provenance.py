"""What trained a set of weights: the sample ids recorded in (or derived from) checkpoint metadata.

``endobench train`` stores, in ``training.trained_ids`` of every checkpoint it writes, the ids of
every image the weights were trained on: this run's training images (positives and real negative
frames; crops of positives carry their source image's id) and, for a second stage (``--init``),
every id the starting weights trained on. ``training.trained_ids_sha256`` is the sha256 of the
sorted ids, one a line.

Weights written before that record existed (the first shipped ``brp_lite``) hold the names of
their training data and the ids they held back for validation. When those names are PraNet's
standard training lists (``kvasir:train``, ``clinicdb:train``), the trained ids are those lists
minus the held-back ids, and their count must equal the recorded ``n_train``; otherwise the ids
cannot be known and the old, cautious rule applies (only held-back images may validate).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from endobench.errors import ConfigError

if TYPE_CHECKING:
    from endobench.train.pairs import Pair

#: ``"kvasir:train (folder Kvasir-SEG): 900 pairs"`` -> ``kvasir:train``.
_DESCRIBED = re.compile(r"^\s*([A-Za-z0-9_\-]+):(train|test)\b")


@dataclass(frozen=True)
class TrainedOn:
    """The images some weights trained on, as far as their metadata tells.

    Attributes:
        ids: Every trained sample id, or None when the metadata does not say.
        held_back: The ids the training held back for validation (older records), or None.
        source: ``"recorded"``, ``"derived from PraNet's training lists"`` or ``"unknown"``.
    """

    ids: frozenset[str] | None
    held_back: frozenset[str] | None
    source: str


def ids_digest(ids: Iterable[str]) -> str:
    """sha256 of a set of sample ids: the sorted ids joined by newlines."""
    return hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()


def training_record(metadata: dict[str, Any]) -> dict[str, Any]:
    """The ``training`` metadata of a checkpoint, or {} where there is none (or only words)."""
    training = metadata.get("training")
    return training if isinstance(training, dict) else {}


def trained_on(metadata: dict[str, Any]) -> TrainedOn:
    """What the weights of a checkpoint trained on (see the module docstring)."""
    training = training_record(metadata)
    held = training.get("validation_ids")
    held_back = frozenset(held) if held else None
    recorded = training.get("trained_ids")
    if recorded:
        return TrainedOn(frozenset(recorded), held_back, "recorded")
    derived = _derive_from_pranet_lists(training)
    if derived is not None:
        return TrainedOn(derived, held_back, "derived from PraNet's training lists")
    return TrainedOn(None, held_back, "unknown")


def all_trained_ids(
    run_train_ids: Iterable[str], start_metadata: dict[str, Any] | None
) -> list[str] | None:
    """Sorted ids of every image that trained a run's weights: its own and its starting weights'.

    Args:
        run_train_ids: This run's training images.
        start_metadata: The ``--init`` checkpoint's metadata, or None.

    Returns:
        The ids; None when the starting weights are endobench weights whose trained ids cannot be
        known (the new checkpoint then keeps the cautious held-back rule). Weights without any
        training record (from elsewhere) add nothing: what they saw is unknowable.
    """
    ids = set(run_train_ids)
    if start_metadata is not None:
        start = trained_on(start_metadata)
        if start.ids is not None:
            ids |= start.ids
        elif start.held_back is not None:
            return None
    return sorted(ids)


def check_validation_ids(
    metadata: dict[str, Any], path: str | Path | None, val_ids: Iterable[str]
) -> None:
    """Refuse validation images that trained the starting weights (choosing epochs on them is biased).

    Weights that record (or let endobench derive) their training ids refuse exactly those ids.
    Older endobench weights that only list their held-back images refuse any other image. Weights
    from elsewhere, without a training record, cannot be checked and are accepted.

    Raises:
        ConfigError: One line naming the weights, how many images trained them and one example.
    """
    start = trained_on(metadata)
    wanted = set(val_ids)
    if start.ids is not None:
        seen = sorted(wanted & start.ids)
        hint = "leave them out of the validation data"
    elif start.held_back is not None:
        seen = sorted(wanted - start.held_back)
        hint = "validate on the images they held back (same --data, --seed and --val-fraction)"
    else:
        return
    if seen:
        raise ConfigError(
            f"{path}: {len(seen)} of this run's validation images (e.g. {seen[0]}) trained those "
            f"weights; {hint}"
        )


#: ``test`` at the start of a name or after a non-letter: ``kvasir_test``, ``TestDataset``, not ``latest``.
_TEST_NAME = re.compile(r"(?<![a-z])test", re.IGNORECASE)


def refuse_test_data(names: Sequence[str]) -> None:
    """Refuse validation data named as a test set: a ``:test`` split, a registry name holding
    ``test`` (``pranet-test/...``) or one of PraNet's unseen test sets (ColonDB, ETIS, CVC-300),
    or a folder whose own name holds ``test``.

    Raises:
        ConfigError: One line naming the data and the fix.
    """
    from endobench.data.registry import _WHOLE_TEST_SETS

    for name in names:
        base, _, part = str(name).partition(":")
        path = Path(base).expanduser()
        label = path.name if path.is_dir() else base
        unseen = not path.is_dir() and base.split("/")[0].lower() in _WHOLE_TEST_SETS
        if _TEST_NAME.search(part) or _TEST_NAME.search(label) or unseen:
            raise ConfigError(
                f"{name}: looks like a test set; calibrate on validation data, never on a test "
                "set (use the images training held back, or another --val-data)"
            )


def refuse_trained_or_test_ids(checkpoint: Path, metadata: dict, pairs: Sequence[Pair]) -> None:
    """Refuse validation frames of PraNet's test split, or frames that trained the weights.

    Raises:
        ConfigError: One line naming an example frame and the fix.
    """
    tests = _pranet_test_ids()
    in_test = sorted(p.id for p in pairs if p.id in tests)
    if in_test:
        raise ConfigError(
            f"{len(in_test)} validation frames (e.g. {in_test[0]}) are in PraNet's test split; "
            "calibrate on validation data, never on a test set"
        )
    trained = trained_on(metadata).ids or frozenset()
    seen = sorted(p.id for p in pairs if p.id in trained)
    if seen:
        raise ConfigError(
            f"{checkpoint}: {len(seen)} validation frames (e.g. {seen[0]}) trained those weights; "
            "give --val-data the weights never trained on"
        )


def _pranet_test_ids() -> frozenset[str]:
    from endobench.data import pranet_split

    return frozenset(
        f"{name}/{stem}" for name in ("kvasir", "clinicdb") for stem in pranet_split(name, "test")
    )


def untrained_negatives(metadata: dict, folders: Sequence[str]) -> tuple[list[Pair], list[str]]:
    """The negative frames of ``folders`` that did not train the weights, and what was used.

    Raises:
        ConfigError: A folder named as a test set, or every frame trained the weights.
    """
    from endobench.train.negative_mix import resolve_negatives

    if not folders:
        return [], []
    refuse_test_data(folders)
    pairs, described = resolve_negatives(folders)
    trained = trained_on(metadata).ids or frozenset()
    kept = [p for p in pairs if p.id not in trained]
    if len(kept) < len(pairs):
        described.append(f"{len(pairs) - len(kept)} frames that trained the weights left out")
    if not kept:
        raise ConfigError(
            f"every negative frame of {', '.join(map(str, folders))} trained the weights; give "
            "--negatives frames held back from training (other sequences)"
        )
    return kept, described


def _derive_from_pranet_lists(training: dict[str, Any]) -> frozenset[str] | None:
    """Trained ids of an older record on PraNet's training lists, or None when not derivable."""
    from endobench.data import pranet_split

    described = training.get("data")
    held = training.get("validation_ids")
    n_train = training.get("n_train")
    if not described or held is None or not isinstance(n_train, int):
        return None
    ids: set[str] = set()
    for entry in described:
        match = _DESCRIBED.match(str(entry))
        if match is None or match.group(2) != "train":
            return None
        name = match.group(1)
        try:
            stems = pranet_split(name, "train")
        except ConfigError:
            return None
        ids.update(f"{name}/{stem}" for stem in stems)
    trained = ids - set(held)
    if len(trained) != n_train or not set(held) <= ids:
        return None
    return frozenset(trained)
