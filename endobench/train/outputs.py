"""What a training run writes besides ``state.pt``: the best checkpoint with its metadata, the
history CSV and curves of each fold, and the cross-validation summary.

Only rank 0 calls these writers; every file is written atomically.
"""

from __future__ import annotations

import time
from pathlib import Path

from endobench.io import write_json_atomic
from endobench.train.fold_state import BEST_FILE, FoldState
from endobench.train.history import plot_history, write_history_csv
from endobench.train.options import TrainConfig
from endobench.train.provenance import ids_digest
from endobench.train.recipe import Recipe
from endobench.train.results import TrainResult


def write_epoch_outputs(state: FoldState, improved: bool) -> None:
    """After an epoch: the best checkpoint (when ``improved``), ``history.csv`` and ``curves.png``."""
    folder = state.plan.folder
    if improved:
        save_best_checkpoint(state)
    write_history_csv(folder / "history.csv", state.history)
    plot_history(
        folder / "curves.png", state.history, title=f"{state.config.model} {state.plan.label}"
    )


def save_best_checkpoint(state: FoldState) -> None:
    """Write the endobench checkpoint of the best epoch with its training and validation metadata."""
    from endobench.models.checkpoint import save_checkpoint

    config, recipe, data_info, best = state.config, state.recipe, state.plan.data_info, state.best
    cfg = dict(getattr(state.model, "endobench_cfg", None) or {})
    metadata = {
        "model": config.model,
        "input_size": recipe.size,
        "mean": list(cfg.get("mean", (0.485, 0.456, 0.406))),
        "std": list(cfg.get("std", (0.229, 0.224, 0.225))),
        "training": training_metadata(state),
        "validation_metrics": {
            "mean_dice_0.5": best["val_dice"],
            "loss": best.get("val_loss"),
            "n_images": data_info["n_val"],
            "fp_frame_rate": _best_row(state).get("val_fp_rate"),
            "n_negative_frames": len(state.plan.negative_val),
            **(
                {
                    "found_frame_rate": _best_row(state).get("val_found_rate"),
                    "n_polyp_frames": len(state.plan.weak_val),
                }
                if state.plan.weak_val
                else {}
            ),
        },
    }
    save_checkpoint(state.plan.folder / BEST_FILE, state.model, metadata, overwrite=True)


def training_metadata(state: FoldState) -> dict:
    """The checkpoint's ``training`` record: data, split, recipe, seed, epochs, machine."""
    from endobench.env import environment

    config, data_info, best = state.config, state.plan.data_info, state.best
    return {
        "data": data_info["train"],
        "validation": data_info["validation"],
        "n_train": data_info["n_train"],
        "n_val": data_info["n_val"],
        # Held-back validation images by id, so `endobench calibrate` can find them again.
        "validation_ids": sorted(data_info["val_ids"])
        if not data_info.get("val_external")
        else None,
        "recipe": state.recipe.to_dict(),
        # Every image that trained these weights (earlier stages' included), so a later --init
        # or calibration refuses exactly those as validation images.
        "trained_ids": data_info.get("trained_ids"),
        "trained_ids_sha256": ids_digest(data_info["trained_ids"])
        if data_info.get("trained_ids")
        else None,
        "negatives": _negatives_record(state) if "negatives" in data_info else None,
        **({"frame_sets": _frame_sets_record(state)} if "frame_sets" in data_info else {}),
        "seed": config.seed,
        "init": data_info.get("init"),
        "epochs_trained": state.history[-1]["epoch"],
        "best_epoch": best["epoch"],
        "selection": _selection_text(state),
        "seconds": round(state.elapsed_s, 1),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world_size": state.ctx.world_size,
        "device": str(state.ctx.device),
        "amp": config.amp,
        "machine": environment(),
    }


def _best_row(state: FoldState) -> dict:
    """The history row of the best epoch so far ({} before the first)."""
    rows = [row for row in state.history if row["epoch"] == state.best["epoch"]]
    return rows[-1] if rows else {}


def _negatives_record(state: FoldState) -> dict:
    """What the checkpoint records of the run's negatives (:mod:`endobench.train.negative_mix`)."""
    info = state.plan.data_info
    mix = state.mix
    return {
        "folders": info["negatives"],
        "n_train_frames": len(info["negative_train_ids"]),
        "n_val_frames": len(info["negative_val_ids"]),
        "val_sequences": info["negative_val_sequences"],
        "crops": info["negative_crops"],
        "n_crops": mix.n_crops if mix else 0,
        "fraction": state.recipe.negative_fraction,
        "n_view_crops": mix.n_views if mix else 0,
        "n_framed_positives": mix.n_framed if mix else 0,
        "frame_share": mix.frame_share if mix and mix.n_framed else 0.0,
    }


def _selection_text(state: FoldState) -> str:
    if state.best["val_dice"] is None:
        return "last epoch (no validation data)"
    if state.recipe.select == "balanced":
        return (
            "best validation mean Dice (0.5) + polyp frames found - polyp-free frames called "
            "polyp (select: balanced)"
        )
    return "best validation mean Dice (0.5)"


def _frame_sets_record(state: FoldState) -> dict:
    """What the checkpoint records of the mask-less frame sets (:mod:`endobench.train.frame_sets`)."""
    info, mix = state.plan.data_info, state.mix
    return {
        "folders": info["frame_sets"],
        "n_weak_train": len(info.get("weak_train_ids", [])),
        "n_weak_val": len(info.get("weak_val_ids", [])),
        "weak_fraction": state.recipe.weak_fraction if mix and mix.has_weak else 0.0,
        "frame_loss": state.recipe.frame_loss if mix and mix.has_weak else 0.0,
    }


def write_summary(config: TrainConfig, recipe: Recipe, result: TrainResult) -> None:
    """Write the cross-validation summary: combined history CSV and plot, ``summary.json``."""
    rows = [row for run in result.runs for row in run.history]
    write_history_csv(config.out / "history.csv", rows)
    plot_history(config.out / "curves.png", rows, title=f"{config.model}: validation per fold")
    write_json_atomic(
        config.out / "summary.json",
        {
            "model": config.model,
            "recipe": recipe.to_dict(),
            "seed": config.seed,
            "runs": [
                {
                    "label": r.label,
                    "fold": r.fold,
                    "checkpoint": str(r.checkpoint.relative_to(config.out)),
                    "best_epoch": r.best_epoch,
                    "best_val_dice": r.best_val_dice,
                    "epochs": r.epochs_done,
                    "n_train": r.n_train,
                    "n_val": r.n_val,
                    "seconds": round(r.seconds, 1),
                }
                for r in result.runs
            ],
            "val_dice_mean": result.val_dice_mean,
            "val_dice_std": result.val_dice_std,
        },
    )


def write_status(folder: Path, status: str, epochs_done: int, epochs: int) -> Path:
    """Write ``status.json`` in a fold's folder: ``"complete"``, or ``"interrupted"`` when a stop
    was requested (``state.pt`` then holds the started epoch; ``--resume`` continues it)."""
    record = {"status": status, "epochs_done": epochs_done, "epochs": epochs}
    return write_json_atomic(Path(folder) / "status.json", record)
