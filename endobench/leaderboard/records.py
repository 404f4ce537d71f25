"""Result records: one JSON file per run summarising what was measured, how and where.

A record is what ``endobench compare`` and the leaderboard read. It holds the EndoCV2021 scores of
every set with ground truth, the FPS figure with its full conditions (device, dtype, input size,
threads), and the provenance (model, weights sha256, data manifest hash, versions, commit), so
that figures measured under different conditions are never ranked together silently.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError, EndobenchError
from endobench.io import write_json_atomic
from endobench.metrics.detection import DETECTION_KEYS
from endobench.wording import counted
from endobench.writers.run_folder import scores_paths

RECORD_SCHEMA = 1
#: The mark after an FPS figure whose timing was unstable (leaderboard and compare tables).
UNSTABLE_MARK = "†"

#: Table metric -> key in the toolkit JSON (``EndoCV2021_seg``).
TOOLKIT_KEYS = {
    "jaccard": "jaccard",
    "dice": "dice",
    "f2": "typeIIerror",
    "ppv": "PPV",
    "recall": "recall",
    "accuracy": "OverallAcc",
    "hausdorff": "hausdorff_distance",
    "hausdorff_nonnorm": "hausdorff_distance_nonNorm",
}

#: Table metric -> key in ``scores/<SET>_standard.json`` (the standard metrics).
STANDARD_KEYS = {
    "mdice": "mean_dice_0.5",
    "miou": "mean_iou_0.5",
    "s_alpha": "s_measure",
    "e_phi_max": "e_measure_max",
    "e_phi_mean": "e_measure_mean",
    "fw_beta": "weighted_f",
    "mae": "mae",
    "hd95": "boundary_hd95",
}
#: Table metric -> figure of PraNet's eval/main.m (the ``"pranet_eval"`` object of
#: ``scores/<SET>.json``, written by ``run --save-prob``), and its column title. One name, one
#: definition: "meanDic (PraNet eval)" is main.m's 256-threshold mean, "Dice@0.5" (``mdice``) the
#: Dice of the map thresholded at 0.5.
PRANET_KEYS = {
    "pranet_meandic": ("meanDic", "meanDic (PraNet eval)"),
    "pranet_meaniou": ("meanIoU", "meanIoU (PraNet eval)"),
    "pranet_wfm": ("wFm", "wFm (PraNet eval)"),
    "pranet_sm": ("Sm", "Sm (PraNet eval)"),
    "pranet_meanem": ("meanEm", "meanEm (PraNet eval)"),
    "pranet_maxem": ("maxEm", "maxEm (PraNet eval)"),
    "pranet_mae": ("MAE", "MAE (PraNet eval)"),
}
#: Column titles of the Dice and IoU at probability 0.5 (``mdice``, ``miou``).
DICE_05_TITLES = {"mdice": "Dice@0.5", "miou": "IoU@0.5"}
#: Frame-level detection figures kept from the ``"detection"`` object of ``scores/<SET>.json``.


def default_leaderboard_dir(start: str | os.PathLike | None = None) -> Path:
    """Return the leaderboard folder: the checkout's ``leaderboard/`` or ``./leaderboard``.

    The checkout is found by walking up from ``start`` (default: the working directory) to a folder
    holding ``pyproject.toml`` and ``endobench/``; the environment variable
    ``ENDOBENCH_LEADERBOARD`` overrides both.
    """
    if os.environ.get("ENDOBENCH_LEADERBOARD"):
        return Path(os.environ["ENDOBENCH_LEADERBOARD"])
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "endobench").is_dir():
            return folder / "leaderboard"
    return Path.cwd() / "leaderboard"


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise EndobenchError(f"{path} not found: {what}") from err
    except json.JSONDecodeError as err:
        raise EndobenchError(f"{path} is not valid JSON ({err.msg}); rerun or delete it") from err


def toolkit_scores(toolkit_json: Mapping[str, Any]) -> dict[str, float]:
    """Return the table metrics from an EndoCV2021 toolkit JSON (``{"EndoCV2021_seg": ...}``)."""
    body = toolkit_json.get("EndoCV2021_seg", toolkit_json)
    scores = {}
    for metric, key in TOOLKIT_KEYS.items():
        entry = body.get(key)
        if isinstance(entry, Mapping) and "value" in entry:
            scores[metric] = float(entry["value"])
        elif isinstance(entry, (int, float)):
            scores[metric] = float(entry)
    return scores


def standard_scores(values: Mapping[str, Any]) -> dict[str, float]:
    """Return the table's standard metrics from a ``scores/<SET>_standard.json`` object."""
    out = {}
    for metric, key in STANDARD_KEYS.items():
        value = values.get(key)
        if isinstance(value, (int, float)) and value == value:
            out[metric] = float(value)
    return out


def pranet_scores(block: Mapping[str, Any]) -> dict[str, float]:
    """Return the table's PraNet-eval metrics from a ``"pranet_eval"`` block."""
    out = {}
    for metric, (figure, _) in PRANET_KEYS.items():
        value = block.get(figure)
        if isinstance(value, (int, float)) and value == value:
            out[metric] = float(value)
    return out


def _set_entry(run_dir: Path, set_name: str, info: Mapping[str, Any], hint: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"images": info.get("images")}
    paths = scores_paths(run_dir, set_name)
    scores_file = run_dir / info["scores_json"] if info.get("scores_json") else paths["json"]
    if scores_file.is_file():
        toolkit = _read_json(scores_file, hint)
        if "EndoCV2021_seg" in toolkit:
            entry["scores"] = toolkit_scores(toolkit)
        if isinstance(toolkit.get("detection"), Mapping):
            entry["detection"] = {k: toolkit["detection"].get(k) for k in DETECTION_KEYS}
        if isinstance(toolkit.get("pranet_eval"), Mapping):
            entry["pranet_eval"] = pranet_scores(toolkit["pranet_eval"])
    standard_file = (
        run_dir / info["standard_json"] if info.get("standard_json") else paths["standard"]
    )
    if entry.get("scores") and standard_file.is_file():
        entry["standard"] = standard_scores(_read_json(standard_file, hint))
    return entry


def record_values(record: Mapping[str, Any], set_name: str) -> dict[str, float | None]:
    """Return every table metric of a record's set: EndoCV scores, standard metrics, PraNet
    eval, detection."""
    entry = record.get("sets", {}).get(set_name, {})
    values: dict[str, float | None] = dict(entry.get("scores") or {})
    values |= entry.get("standard") or {}
    values |= entry.get("pranet_eval") or {}
    detection = entry.get("detection") or {}
    values |= {
        k: detection.get(k) for k in ("fp_frame_rate", "sensitivity", "specificity", "auroc")
    }
    return values


def present_metrics(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Metric keys with a value in any record's set, for choosing default columns.

    Detection figures count only on sets with polyp-free frames or without segmentation scores:
    on a set of polyp frames scored as segmentation they add nothing a reader needs by default.
    """
    present: set[str] = set()
    for record in records:
        for set_name, entry in record.get("sets", {}).items():
            values = record_values(record, set_name)
            detection = entry.get("detection") or {}
            telling = bool(detection.get("n_negative_frames")) or not entry.get("scores")
            present |= {
                k for k, v in values.items() if v is not None and (telling or k not in detection)
            }
    return present


def timing_stability(timing: Mapping[str, Any]) -> dict[str, Any]:
    """Return whether a run's ``timing.json`` calls its figures unstable, why, and under what load.

    Timings written before the flag existed have no ``unstable`` key and count as stable.
    """
    cond = timing.get("conditions") or {}
    return {
        "unstable": bool(timing.get("unstable")),
        "reasons": list(timing.get("unstable_reasons") or []),
        "load_average_start": cond.get("load_average_start"),
        "load_average_end": cond.get("load_average_end"),
        "usable_cores": cond.get("usable_cores"),
        "cpu_affinity": cond.get("cpu_affinity"),
    }


def is_unstable(record: Mapping[str, Any]) -> bool:
    """True when a record's speed figure was flagged unstable (records without the flag: stable)."""
    return bool((record.get("timing_stability") or {}).get("unstable"))


def unstable_reason(record: Mapping[str, Any]) -> str:
    """The reasons a record's timing is unstable, joined (``"reasons not recorded"`` without)."""
    reasons = (record.get("timing_stability") or {}).get("reasons") or ["reasons not recorded"]
    return "; ".join(str(r) for r in reasons)


def record_from_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Summarise a finished run folder as a leaderboard record.

    Args:
        run_dir: A folder written by ``endobench run`` (``run.json``, ``timing.json``, scores).

    Returns:
        The record (JSON-serialisable).

    Raises:
        EndobenchError: The folder is not a finished run.
    """
    run_dir = Path(run_dir)
    hint = f"{run_dir} is not a finished endobench run folder; run `endobench run` first"
    run = _read_json(run_dir / "run.json", hint)
    timing = _read_json(run_dir / "timing.json", hint)
    config = run.get("config", {})
    cond = timing.get("conditions", {})
    sets = {
        set_name: _set_entry(run_dir, set_name, info, hint)
        for set_name, info in run.get("sets", {}).items()
    }
    dtype = cond.get("dtype", config.get("dtype"))
    fps = timing.get("fps", {})
    return {
        "schema": RECORD_SCHEMA,
        "run": run.get("name", run_dir.name),
        "model": config.get("model"),
        "weights": config.get("weights"),
        "weights_sha256": run.get("weights_sha256"),
        "size": cond.get("input_size", config.get("size")),
        "dtype": dtype,
        "backend": cond.get("backend") or config.get("backend") or run.get("backend") or "torch",
        "precision": cond.get("precision")
        or config.get("precision")
        or run.get("precision")
        or dtype,
        "device": cond.get("device"),
        "device_name": cond.get("device_name"),
        "threads": cond.get("threads"),
        "batch_size": config.get("batch_size"),
        "created": run.get("created"),
        "manifest_sha256": run.get("manifest_sha256"),
        "environment": {
            k: run.get("environment", {}).get(k)
            for k in ("endobench", "git_commit", "python", "torch", "timm", "cpu", "cuda_device")
        },
        "fps": {
            k: fps.get(k) for k in ("fps", "median_ms", "p90_ms", "images_timed", "definition")
        },
        "timing_stability": timing_stability(timing),
        "throughput_images_per_s": timing.get("throughput", {}).get("images_per_s"),
        "end_to_end_images_per_s": timing.get("end_to_end", {}).get("images_per_s"),
        "sets": sets,
    }


def condition_key(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Return what makes speed figures comparable: (device name, backend, precision, threads).

    Records without a backend ran in torch; without a precision, the precision is their dtype.
    """
    return (
        str(record.get("device_name") or record.get("device") or "?"),
        str(record.get("backend") or "torch"),
        str(record.get("precision") or record.get("dtype") or "?"),
        str(record.get("threads") or "?"),
    )


def describe_condition(condition: tuple[str, ...]) -> str:
    """Say a condition in words: ``AMD EPYC, torch, float32, 2 threads``."""
    device, backend, precision, threads = condition
    return f"{device}, {backend}, {precision}, {counted(int(threads) if threads.isdigit() else threads, 'thread')}"


def record_filename(record: Mapping[str, Any]) -> str:
    """Return a file name for a record, unique per run, model, size, device and dtype."""
    parts = [
        record.get("run"),
        record.get("model"),
        record.get("size"),
        record.get("device"),
        record.get("dtype"),
    ]
    text = "__".join(str(p) for p in parts if p not in (None, ""))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") + ".json"


def add_record(
    run_dir: str | os.PathLike,
    leaderboard_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Store a run's record as ``<leaderboard>/results/<file>.json``.

    Args:
        run_dir: A finished run folder.
        leaderboard_dir: The leaderboard folder (default: :func:`default_leaderboard_dir`).
        force: Replace an existing record of the same run.

    Returns:
        The record's path.

    Raises:
        EndobenchError: The record exists and ``force`` is not set, or the run is unfinished.
    """
    record = record_from_run(run_dir)
    folder = Path(leaderboard_dir) if leaderboard_dir is not None else default_leaderboard_dir()
    path = folder / "results" / record_filename(record)
    if path.exists() and not force:
        raise EndobenchError(f"record {path} exists; pass --force to replace it")
    return write_json_atomic(path, record)


def load_records(leaderboard_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Read every record under ``<leaderboard>/results/`` (sorted by file name)."""
    folder = Path(leaderboard_dir) if leaderboard_dir is not None else default_leaderboard_dir()
    results = folder / "results"
    if not results.is_dir():
        return []
    records = []
    for path in sorted(results.glob("*.json")):
        record = _read_json(path, "a leaderboard record")
        if record.get("schema") != RECORD_SCHEMA:
            raise ConfigError(
                f"{path}: unknown record schema {record.get('schema')!r}; re-add the run"
            )
        record["_file"] = path.name
        records.append(record)
    return records


def load_sources(sources: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Return records for run folders or record JSON files, in the given order.

    Raises:
        EndobenchError: A source is neither a run folder nor a record file.
    """
    records = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            records.append(record_from_run(path))
        elif path.is_file() and path.suffix == ".json":
            records.append(_read_json(path, "a leaderboard record"))
        else:
            raise EndobenchError(
                f"{path} is neither a run folder nor a record .json; check the path"
            )
    return records
