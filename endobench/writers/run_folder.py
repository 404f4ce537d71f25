"""The run folder: creation rules (``--force``, ``--resume``), ``run.json``, ``timing.json``, manifests.

Layout of ``submissions/<run>/``::

    run.json                     configuration, versions, device, weights sha256, manifest hash, seed
    timing.json                  FPS (batch-1 forward), batched throughput, end-to-end images/s
    manifest.json                every input image: set, id, name, source file, original size
    EndoCV2021/segmentation/<set>_pred/<name>_mask.jpg     the submission (0/255, original size)
    EndoCV2021/segmentation/<set>_pred/timeElaspsed<set>.txt   the toolkit's per-image times
    probabilities/<set>/<name>_prob.png                   with --save-prob
    scores/<set>.json, scores/<set>.csv, scores/<set>_standard.json   sets with ground truth
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError
from endobench.io import write_json_atomic, write_text_atomic
from endobench.writers.masks import SUBMISSION_ROOT, set_pred_dir

RUN_JSON = "run.json"
TIMING_JSON = "timing.json"
MANIFEST_JSON = "manifest.json"
SCORES_DIR = "scores"


def prepare_run_dir(run_dir: str | Path, force: bool = False, resume: bool = False) -> Path:
    """Create the run folder, refusing to overwrite an existing run unless asked.

    Args:
        run_dir: The run folder (``<out>/<name>``).
        force: Delete an existing run folder first.
        resume: Keep an existing run folder and its finished outputs.

    Returns:
        The run folder, existing and ready for writing.

    Raises:
        ConfigError: The folder exists and neither option was given, both options were given, or
            ``force`` would delete (``resume`` would write into) a folder that is not an endobench
            run.
    """
    path = Path(run_dir)
    if force and resume:
        raise ConfigError(
            f"--force and --resume contradict each other for {path}; pass one of them"
        )
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} exists and is not a folder; choose another --name or --out")
    if path.is_dir() and any(path.iterdir()):
        if force:
            if not is_run_dir(path):
                raise ConfigError(
                    f"{path} is not an endobench run folder (no run.json or EndoCV2021/); "
                    "refusing to delete it with --force: choose another --name or --out"
                )
            shutil.rmtree(path)
        elif not resume:
            raise ConfigError(
                f"run folder {path} exists; pass --resume to continue it or --force to overwrite it"
            )
        elif not is_run_dir(path):
            raise ConfigError(
                f"{path} is not an endobench run folder (no run.json or EndoCV2021/); nothing to "
                "resume there: choose another --name or --out"
            )
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_run_dir(path: str | Path) -> bool:
    """Say whether ``path`` looks like a run folder written by endobench."""
    path = Path(path)
    return (path / RUN_JSON).is_file() or (path / SUBMISSION_ROOT.parts[0]).is_dir()


def check_resumable(run_dir: str | Path, config: Mapping[str, Any], keys: Iterable[str]) -> None:
    """Refuse to resume a run made with a different model, weights or input size.

    Args:
        run_dir: The existing run folder.
        config: The new run's configuration.
        keys: Configuration keys that must be equal for outputs to be reused.

    Raises:
        ConfigError: A key differs from the recorded run.
    """
    recorded = read_run_json(run_dir, required=False)
    if recorded is None:
        return
    previous = recorded.get("config", {})
    for key in keys:
        if key in previous and previous[key] != config.get(key):
            raise ConfigError(
                f"cannot resume {Path(run_dir) / RUN_JSON}: it was made with {key}={previous[key]!r}, "
                f"not {config.get(key)!r}; pass --force to start over or use another --name"
            )


def read_run_json(run_dir: str | Path, required: bool = True) -> dict[str, Any] | None:
    """Read ``run.json`` from a run folder.

    Raises:
        ConfigError: It is missing (when ``required``) or not valid JSON.
    """
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        if required:
            raise ConfigError(f"{path} not found: {run_dir} is not a finished endobench run folder")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path} is not valid JSON ({err.msg}); rerun the run with --force"
        ) from err


def write_run_json(run_dir: str | Path, info: Mapping[str, Any]) -> Path:
    """Write ``run.json`` atomically."""
    return write_json_atomic(Path(run_dir) / RUN_JSON, dict(info))


def write_timing_json(run_dir: str | Path, timing: Mapping[str, Any]) -> Path:
    """Write ``timing.json`` atomically."""
    return write_json_atomic(Path(run_dir) / TIMING_JSON, dict(timing))


def write_manifest(run_dir: str | Path, manifest: Mapping[str, list[Mapping[str, Any]]]) -> Path:
    """Write ``manifest.json``: per set, one entry per image (id, name, file, height, width)."""
    return write_json_atomic(
        Path(run_dir) / MANIFEST_JSON, {k: list(v) for k, v in manifest.items()}
    )


def read_manifest(run_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read ``manifest.json`` from a run folder.

    Raises:
        ConfigError: It is missing or unreadable.
    """
    path = Path(run_dir) / MANIFEST_JSON
    if not path.is_file():
        raise ConfigError(f"{path} not found: {run_dir} is not an endobench run folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path} is not valid JSON ({err.msg}); rerun the run with --force"
        ) from err


def manifest_hash(manifest: Mapping[str, list[Mapping[str, Any]]]) -> str:
    """Return a sha256 over the manifest (sets, names, sizes and file hashes), order-independent."""
    rows = []
    for set_name in sorted(manifest):
        for entry in manifest[set_name]:
            rows.append(
                [set_name, entry["name"], entry["height"], entry["width"], entry.get("sha256", "")]
            )
    rows.sort()
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def time_file_path(run_dir: str | Path, set_name: str) -> Path:
    """Return ``<set>_pred/timeElaspsed<set>.txt`` (the toolkit's spelling)."""
    return set_pred_dir(run_dir, set_name) / f"timeElaspsed{set_name}.txt"


def format_time_file(entries: Iterable[tuple[str, float]]) -> str:
    """Format per-image times as the EndoCV2021 inference script writes them.

    Each line is ``<name> -----> <milliseconds> `` and the last line is ``average_t -----> <mean>``,
    exactly the ``'%s -----> %s \\n'`` lines of ``endocv2021_inference-seg.py``.
    """
    lines = []
    values = []
    for name, millis in entries:
        values.append(float(millis))
        lines.append(f"{name} -----> {float(millis)} \n")
    mean = sum(values) / len(values) if values else float("nan")
    lines.append(f"average_t -----> {mean} \n")
    return "".join(lines)


def parse_time_file(text: str) -> list[tuple[str, float]]:
    """Parse a ``timeElaspsed*.txt`` file into ``(name, milliseconds)`` pairs (``average_t`` included)."""
    entries = []
    for line in text.splitlines():
        if "----->" in line:
            name, value = line.split("----->", 1)
            entries.append((name.strip(), float(value.strip())))
    return entries


def write_time_file(
    run_dir: str | Path, set_name: str, entries: Iterable[tuple[str, float]]
) -> Path:
    """Write a set's ``timeElaspsed<set>.txt`` atomically and return its path."""
    return write_text_atomic(time_file_path(run_dir, set_name), format_time_file(entries))


def scores_paths(run_dir: str | Path, set_name: str) -> dict[str, Path]:
    """Return the paths of a set's toolkit JSON, per-image CSV and standard-metrics JSON."""
    base = Path(run_dir) / SCORES_DIR
    return {
        "json": base / f"{set_name}.json",
        "csv": base / f"{set_name}.csv",
        "standard": base / f"{set_name}_standard.json",
    }
