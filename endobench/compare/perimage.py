"""Per-image scores of run folders, read from ``scores/<SET>.csv``, and the same-images rule.

Statistics, the HTML report and ``compare`` on run folders all start here: each run's per-image
EndoCV2021 scores, one table per set, keyed by image name. Runs compared on one set must have
scored the same images; otherwise :func:`check_same_images` refuses with one line naming them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from endobench.errors import EndobenchError
from endobench.writers.run_folder import read_run_json, scores_paths

#: Per-image columns of ``scores/<SET>.csv``; ``hausdorff`` is the row Hausdorff in pixels.
PER_IMAGE_METRICS = ("jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff")
#: Metrics where a lower value is better.
LOWER_IS_BETTER = frozenset({"hausdorff"})
SHOWN_MISSING = 5


@dataclass
class RunScores:
    """One run folder's per-image scores: ``sets[SET][METRIC]`` aligned with ``images[SET]``."""

    name: str
    path: Path
    model: str
    images: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    without_truth: list[str] = field(default_factory=list)


def read_per_image_csv(path: str | os.PathLike) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read a per-image CSV: the image names and one float array per metric column.

    Raises:
        EndobenchError: The file is missing a column or holds a value that is not a number.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("image", *PER_IMAGE_METRICS) if c not in (reader.fieldnames or [])]
        if missing:
            raise EndobenchError(
                f"{path} lacks the column(s) {', '.join(missing)}; rescore the run (endobench run --resume)"
            )
        rows = list(reader)
    try:
        values = {
            m: np.array([float(r[m]) for r in rows], dtype=np.float64) for m in PER_IMAGE_METRICS
        }
    except ValueError as err:
        raise EndobenchError(
            f"{path} holds a value that is not a number ({err}); rescore the run"
        ) from err
    return [r["image"] for r in rows], values


def load_run_scores(run_dir: str | os.PathLike) -> RunScores:
    """Read every set's per-image scores of a finished run folder.

    Sets without ground truth (no per-image CSV) are listed in ``without_truth``.

    Raises:
        EndobenchError: The folder is not a finished run, or a CSV is unreadable.
    """
    run_dir = Path(run_dir)
    info = read_run_json(run_dir)
    model = str((info.get("config") or {}).get("model") or run_dir.name)
    scores = RunScores(name=run_dir.name, path=run_dir, model=model)
    for set_name in info.get("sets", {}):
        path = scores_paths(run_dir, set_name)["csv"]
        if not path.is_file():
            scores.without_truth.append(set_name)
            continue
        names, values = read_per_image_csv(path)
        if not names:
            scores.without_truth.append(set_name)
            continue
        order = np.argsort(np.array(names, dtype=object), kind="stable")
        scores.images[set_name] = [names[i] for i in order]
        scores.sets[set_name] = {m: v[order] for m, v in values.items()}
    return scores


def load_runs(run_dirs: Iterable[str | os.PathLike]) -> list[RunScores]:
    """Read several run folders; run names (folder names) must be unique.

    Raises:
        EndobenchError: Two folders share a name, or a folder is not a finished run.
    """
    runs = [load_run_scores(r) for r in run_dirs]
    names = [r.name for r in runs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise EndobenchError(
            f"run folders share the name {', '.join(duplicated)}; rename one so the runs can be told apart"
        )
    return runs


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_MISSING])
    return shown + (f" (… {len(names) - SHOWN_MISSING} more)" if len(names) > SHOWN_MISSING else "")


def check_same_images(runs: Sequence[RunScores]) -> None:
    """Refuse runs that scored different images of a set they share.

    Raises:
        EndobenchError: One line naming the set, the runs and the images one of them lacks.
    """
    problems = []
    for set_name in sets_of(runs):
        having = [r for r in runs if set_name in r.images]
        reference = having[0]
        wanted = set(reference.images[set_name])
        for run in having[1:]:
            got = set(run.images[set_name])
            if got == wanted:
                continue
            lacks = sorted(wanted - got)
            extra = sorted(got - wanted)
            parts = []
            if lacks:
                parts.append(f"{run.name} lacks {_listed(lacks)}")
            if extra:
                parts.append(f"{reference.name} lacks {_listed(extra)}")
            problems.append(f"set {set_name}: " + "; ".join(parts))
    if problems:
        raise EndobenchError(
            "runs scored different images, so their means are not comparable: "
            + " | ".join(problems)
            + "; rerun them on the same images"
        )


def check_finite(runs: Sequence[RunScores]) -> None:
    """Refuse per-image scores that are NaN or infinite (statistics need finite values).

    Raises:
        EndobenchError: One line naming the CSV, the metric and the image.
    """
    for run in runs:
        for set_name, values in run.sets.items():
            for metric, column in values.items():
                bad = np.flatnonzero(~np.isfinite(column))
                if bad.size:
                    path = scores_paths(run.path, set_name)["csv"]
                    raise EndobenchError(
                        f"{path}: {metric} of {run.images[set_name][bad[0]]} is {column[bad[0]]}; "
                        "statistics need finite per-image scores: rescore the run"
                    )


def sets_of(runs: Sequence[RunScores]) -> list[str]:
    """Return the sets with per-image scores, in the order the runs first name them."""
    names: list[str] = []
    for run in runs:
        names += [s for s in run.sets if s not in names]
    return names


def set_matrix(
    runs: Sequence[RunScores], set_name: str, metric: str
) -> tuple[list[str], np.ndarray]:
    """Return the runs that scored ``set_name`` and their values as a ``runs x images`` array."""
    having = [r for r in runs if set_name in r.sets]
    return [r.name for r in having], np.stack([r.sets[set_name][metric] for r in having])


def runs_without_truth(runs: Sequence[RunScores]) -> dict[str, list[str]]:
    """Return ``{run: [sets without ground truth]}`` for runs that have such sets."""
    return {r.name: list(r.without_truth) for r in runs if r.without_truth}


def describe_dropped(dropped: Mapping[str, Sequence[str]], scored: Iterable[str]) -> list[str]:
    """Return notes naming runs (or sets) left out because they have no ground truth."""
    scored = set(scored)
    notes = []
    for run, sets in dropped.items():
        if run not in scored:
            notes.append(f"Not shown: run {run} has no set with ground truth ({', '.join(sets)}).")
        else:
            notes.append(f"Not shown: set(s) {', '.join(sets)} of run {run} (no ground truth).")
    return notes
