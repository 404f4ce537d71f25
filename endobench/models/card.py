"""Model cards: what a weights file is, how it was trained and what it scores, from the records.

Built only from what endobench recorded: the checkpoint's metadata (training, calibration) and
finished ``endobench run`` folders (scores, FPS and its conditions, an unstable timing flagged);
nothing is typed in but free notes. :func:`build_card` gives the JSON, :func:`render_card` the page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError, EndobenchError
from endobench.io import write_json_atomic, write_text_atomic
from endobench.wording import counted

CARD_SCHEMA = 1
#: Table columns: (heading, key in a set's scores).
COLUMNS = (
    ("Dice", "dice"),
    ("Jaccard", "jaccard"),
    ("F2", "f2"),
    ("PPV", "ppv"),
    ("Recall", "recall"),
    ("Accuracy", "accuracy"),
    ("Hdf (norm.)", "hausdorff"),
    ("Dice@0.5", "mean_dice_0.5"),
    ("meanDic (PraNet eval)", "pranet_meandic"),
)
_PRANET = ("pranet_meandic",)


def evaluation_from_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Summarise a finished run folder for a card: model, weights, per-set scores, FPS.

    Each set's scores: the EndoCV2021 toolkit metrics, the mean Dice and IoU at 0.5 (truth ``> 127``)
    and PraNet's eval/main.m meanDic where the run saved its probability maps.

    Raises:
        EndobenchError: The folder is not a finished run.
    """
    from endobench.leaderboard.records import is_unstable, record_from_run, unstable_reason

    run_dir = Path(run_dir)
    record = record_from_run(run_dir)
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    sets = {}
    for name, entry in record["sets"].items():
        scores = dict(entry.get("scores", {}))
        standard = run["sets"].get(name, {}).get("standard_json")
        if standard and (run_dir / standard).is_file():
            values = json.loads((run_dir / standard).read_text(encoding="utf-8"))
            for key in ("mean_dice_0.5", "mean_iou_0.5"):
                if isinstance(values.get(key), (int, float)) and values[key] == values[key]:
                    scores[key] = values[key]  # NaN on polyp-free frames: no positives' figure
        scores |= {k: v for k, v in (entry.get("pranet_eval") or {}).items() if k in _PRANET}
        sets[name] = {"images": entry.get("images"), "scores": scores}
        scores_json = run["sets"].get(name, {}).get("scores_json")
        if scores_json and (run_dir / scores_json).is_file():
            detection = json.loads((run_dir / scores_json).read_text(encoding="utf-8"))
            if detection.get("detection"):
                sets[name]["detection"] = detection["detection"]
    config = run.get("config", {})
    return {
        "run": record["run"],
        "model": record["model"],
        "weights_sha256": record["weights_sha256"],
        "datasets": config.get("datasets") or [],
        "size": record["size"],
        "dtype": record["dtype"],
        "backend": record.get("backend", "torch"),
        "precision": record.get("precision") or record["dtype"],
        "device_name": record["device_name"],
        "threads": record["threads"],
        "fps": record["fps"],
        "fps_unstable": unstable_reason(record) if is_unstable(record) else None,
        "environment": record["environment"],
        "sets": sets,
        "detection": run.get("detection") if len(sets) > 1 else None,
    }


def build_card(
    weights: str | os.PathLike, runs: Sequence[str | os.PathLike] = ()
) -> dict[str, Any]:
    """Build a card for an endobench checkpoint from its metadata and the runs that used it.

    Args:
        weights: The checkpoint (``.safetensors`` written by ``endobench train``/``calibrate``).
        runs: Finished ``endobench run`` folders made with exactly this file.

    Raises:
        EndobenchError: A run was made with other weights, or is not a finished run.
        WeightsError: The checkpoint cannot be read.
    """
    from endobench.models.checkpoint import load_checkpoint

    path = Path(weights)
    tensors, meta = load_checkpoint(path)
    sha = meta["sha256"]
    raw = meta.get("training") or {}
    # Checkpoints written outside `endobench train` may describe their training in words.
    raw = raw if isinstance(raw, Mapping) else {"description": str(raw)}
    # Id lists stay in the checkpoint (a card keeps their sha256 and counts only).
    training = {k: v for k, v in raw.items() if k not in ("validation_ids", "trained_ids")}
    calibration = meta.get("calibration") or {}
    evaluations = []
    for run_dir in runs:
        evaluation = evaluation_from_run(run_dir)
        if evaluation["weights_sha256"] != sha:
            raise EndobenchError(
                f"{run_dir}: made with weights {str(evaluation['weights_sha256'])[:12]}, not "
                f"{path.name} ({sha[:12]}); run `endobench run` with these weights first"
            )
        evaluations.append(evaluation)
    return {
        "schema": CARD_SCHEMA,
        "model": meta.get("model"),
        "architecture": meta.get("architecture"),
        "file": path.name,
        "sha256": sha,
        "bytes": path.stat().st_size,
        "dtype": meta.get("dtype"),
        "parameters": int(
            sum(t.numel() for k, t in tensors.items() if t.is_floating_point() and not _buffer(k))
        ),
        "input_size": meta.get("input_size"),
        "mean": meta.get("mean"),
        "std": meta.get("std"),
        "postprocess": meta.get("postprocess"),
        "training": training,
        "stages": training_stages(training),
        "validation": {
            "n_images": calibration.get("n_val") or training.get("n_val"),
            "before_postprocess": calibration.get("validation_before"),
            "after_postprocess": calibration.get("validation_after"),
            "mean_dice_0.5": (meta.get("validation_metrics") or {}).get("mean_dice_0.5"),
        },
        "evaluations": evaluations,
    }


def training_stages(training: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The training stages, first to last, following the ``init`` records of ``--init`` runs."""
    stages = []
    node: Mapping[str, Any] | None = training
    while node and node.get("recipe"):
        recipe = node["recipe"]
        stages.append(
            {
                "size": recipe.get("size"),
                "scales": recipe.get("scales"),
                "lr": recipe.get("lr"),
                "batch_size": recipe.get("batch_size"),
                "epochs": recipe.get("epochs"),
                "best_epoch": node.get("best_epoch"),
                "seconds": node.get("seconds"),
            }
        )
        init = node.get("init") or {}
        node = init.get("training")
    return stages[::-1]


def _buffer(key: str) -> bool:
    """Batch-norm running statistics are stored with the weights but are not parameters."""
    return key.endswith(("running_mean", "running_var", "num_batches_tracked"))


def _f(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _score_table(sets: Mapping[str, Any]) -> list[str]:
    lines = [
        "| set | images | " + " | ".join(h for h, _ in COLUMNS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for name, entry in sets.items():
        scores = entry["scores"]
        cells = [_f(scores.get(key)) for _, key in COLUMNS]
        lines.append(f"| {name} | {entry.get('images')} | " + " | ".join(cells) + " |")
    return lines


def render_card(card: Mapping[str, Any], notes: str | None = None) -> str:
    """Render a card as a markdown page; ``notes`` (markdown) is appended as written."""
    lines = [
        f"# Model card: `{card['model']}` weights `{card['file']}`",
        "",
        "Generated by `endobench model-card` from the checkpoint's metadata and the run folders "
        "named below; the same numbers are in the card's JSON.",
        "",
        *_file_section(card),
        *_training_section(card),
        *_validation_section(card["validation"]),
        *_evaluations_section(card["evaluations"]),
    ]
    text = "\n".join(lines) + "\n"
    if notes:
        text += "\n" + notes.strip() + "\n"
    return text


def _file_section(card: Mapping[str, Any]) -> list[str]:
    post = card.get("postprocess") or {}
    lines = [
        "## File",
        f"- `{card['file']}`: {card['bytes'] / 1e6:.1f} MB, {card.get('dtype') or 'float32'}, "
        f"sha256 `{card['sha256']}`",
        f"- Architecture `{card.get('architecture')}`, {card['parameters'] / 1e6:.2f} M parameters; "
        f"input {card['input_size']} x {card['input_size']} RGB, mean {card['mean']}, "
        f"std {card['std']}",
    ]
    if post:
        lines.append(
            f"- Post-processing: reference area {post.get('reference_area'):.5f} of the image, "
            f"confidence {post.get('confidence')}, polarisation {post.get('polarise')}"
        )
    return lines


def _training_section(card: Mapping[str, Any]) -> list[str]:
    training = card["training"]
    lines = ["", "## Training", ""]
    if training.get("description"):
        lines.append(f"- {training['description']}")
    if training.get("data"):
        held_back = "; ".join(training.get("validation") or []) or "separate data"
        lines += [
            "- Data: " + "; ".join(training.get("data") or []) + f"; {training.get('n_train')} "
            f"images trained on, {training.get('n_val')} for validation ({held_back})",
            f"- Seed {training.get('seed')}; epoch kept: {training.get('selection', '-')}; "
            "no test image was used for any choice",
        ]
    negatives = training.get("negatives") or {}
    if negatives:
        lines.append(f"- Negatives: {_negatives_line(negatives)}")
    machine = training.get("machine") or {}
    if machine:
        lines.append(
            f"- Machine: {machine.get('cpu')} ({machine.get('cpu_count')} cores), device "
            f"{training.get('device')}, torch {machine.get('torch')}, timm {machine.get('timm')}, "
            f"endobench {machine.get('endobench')} (commit {str(machine.get('git_commit'))[:10]})"
        )
    if card["stages"]:
        lines += [
            "",
            "| stage | size | scales | lr | batch | epochs | kept epoch | seconds to kept epoch |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
    for number, stage in enumerate(card["stages"], 1):
        lines.append(
            f"| {number} | {stage['size']} | {stage['scales']} | {stage['lr']:g} | "
            f"{stage['batch_size']} | {stage['epochs']} | {stage['best_epoch']} | "
            f"{stage['seconds']} |"
        )
    if not training:
        lines.append("No training record in the checkpoint.")
    return lines


def _negatives_line(negatives: Mapping[str, Any]) -> str:
    """One line from the checkpoint's record of the negatives a run trained with
    (:func:`endobench.train.outputs` writes it; unknown records are listed key by key)."""
    known = {"folders", "n_train_frames", "n_val_frames", "val_sequences", "crops", "fraction"}
    if not known <= set(negatives):
        parts = [f"{k.replace('_', ' ')} {v}" for k, v in negatives.items() if _scalar(v)]
        return "; ".join(parts) or json.dumps(negatives)
    sequences = ", ".join(negatives["val_sequences"]) or "none"
    parts = [
        f"{'; '.join(negatives['folders'])}: {negatives['n_train_frames']} frames trained, "
        f"{negatives['n_val_frames']} validated (sequences {sequences})",
        f"{negatives.get('n_crops', 0)} crops of positive images away from the polyp"
        if negatives["crops"]
        else "no crops",
        f"negatives are {negatives['fraction']:g} of each batch",
    ]
    if negatives.get("n_framed_positives"):
        parts.append(
            f"{negatives.get('n_view_crops', 0)} view crops, {negatives['frame_share']:g} of "
            "positives framed in a negative frame"
        )
    return "; ".join(parts)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _validation_section(validation: Mapping[str, Any]) -> list[str]:
    lines = ["", f"## Validation ({validation['n_images']} held-back images, truth > 127)", ""]
    if validation.get("before_postprocess"):
        lines += [
            "| | Dice | Jaccard | PPV | Recall | FP frame rate (negatives) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for label, key in (
            ("probability > 0.5", "before_postprocess"),
            ("post-processed", "after_postprocess"),
        ):
            m = validation.get(key) or {}
            lines.append(
                f"| {label} | {_f(m.get('dice'), 4)} | {_f(m.get('jaccard'), 4)} | "
                f"{_f(m.get('ppv'), 4)} | {_f(m.get('recall'), 4)} | {_f(m.get('fp_frame_rate'))} |"
            )
    else:
        lines.append(f"Mean Dice at 0.5: {_f(validation.get('mean_dice_0.5'), 4)}")
    return lines


def _evaluations_section(evaluations: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "",
        "## Evaluations",
        "",
        "EndoCV2021 toolkit metrics (truth binarised `> 0`, as the toolkit does); Dice@0.5: mean "
        "Dice at probability 0.5 (truth and mask pixels `> 127`); meanDic (PraNet eval): PraNet's "
        "eval/main.m on the saved 8-bit probability maps (`-`: no maps kept). FPS: forward pass, "
        "batch 1, median. Frame-level detection: a frame is called positive when its written mask "
        "has any foreground pixel; AUROC ranks frames by their highest probability.",
    ]
    for ev in evaluations:
        fps, unstable = ev.get("fps") or {}, ev.get("fps_unstable")
        lines += [
            "",
            f"### `{ev['model']}` on {', '.join(ev['datasets']) or ', '.join(ev['sets'])} "
            f"(run `{ev['run']}`)",
            "",
            *_score_table(ev["sets"]),
            *_detection_table(ev["sets"], ev.get("detection")),
            "",
            f"{_f(fps.get('fps'), 1)} FPS (median {_f(fps.get('median_ms'), 1)} ms, p90 "
            f"{_f(fps.get('p90_ms'), 1)} ms) at {ev['size']} px, {_runtime(ev)}, "
            f"{counted(ev['threads'], 'thread')}, {ev['device_name']}."
            + (f" **Unstable timing** ({unstable}): time it again." if unstable else ""),
        ]
    return lines


def _runtime(evaluation: Mapping[str, Any]) -> str:
    """``float32`` for eager fp32 (cards of earlier versions too), else backend and precision."""
    backend = evaluation.get("backend", "torch")
    precision = evaluation.get("precision") or evaluation["dtype"]
    if backend == "torch" and precision in ("fp32", "float32"):
        return evaluation["dtype"]
    return f"{backend} {precision}"


def _detection_table(sets: Mapping[str, Any], pooled: Mapping[str, Any] | None = None) -> list[str]:
    """Frame-level figures per set, and pooled when that gives the run's only AUROC."""
    rows = [(name, entry["detection"]) for name, entry in sets.items() if entry.get("detection")]
    if not rows:
        return []
    if pooled and pooled.get("auroc") is not None:
        rows.append(("all sets pooled", pooled))
    lines = [
        "",
        "| set | positive frames | negative frames | FP frame rate | sensitivity | specificity | AUROC |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, d in rows:
        lines.append(
            f"| {name} | {d.get('n_positive_frames')} | {d.get('n_negative_frames')} | "
            f"{_f(d.get('fp_frame_rate'))} | {_f(d.get('sensitivity'))} | "
            f"{_f(d.get('specificity'))} | {_f(d.get('auroc'))} |"
        )
    return lines


def write_card(
    weights: str | os.PathLike,
    runs: Sequence[str | os.PathLike],
    json_out: str | os.PathLike,
    markdown_out: str | os.PathLike | None = None,
    notes: str | os.PathLike | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Build a card and write its JSON (and markdown page), atomically.

    Raises:
        ConfigError: An output exists and ``force`` is not set, or the notes file is missing.
    """
    outputs = [Path(p) for p in (json_out, markdown_out) if p is not None]
    for out in outputs:
        if out.exists() and not force:
            raise ConfigError(f"{out} exists; pass --force to replace it")
    notes_text = None
    if notes is not None:
        if not Path(notes).is_file():
            raise ConfigError(f"{notes}: notes file not found; check the path")
        notes_text = Path(notes).read_text(encoding="utf-8")
    card = build_card(weights, runs)
    write_json_atomic(json_out, card)
    if markdown_out is not None:
        write_text_atomic(markdown_out, render_card(card, notes_text))
    return card
