"""What a training run keeps on disk: its identity, the resumable state, the best checkpoint, the summary.

Only rank 0 calls the writers; every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

import torch

from endobench.io import atomic_path, write_json_atomic
from endobench.train import distributed as D
from endobench.train.history import plot_history, write_history_csv
from endobench.train.recipe import Recipe

if TYPE_CHECKING:
    from endobench.train.loop import RunResult, TrainConfig

STATE_FORMAT = "endobench-train-state/1"


def run_identity(
    config: TrainConfig, recipe: Recipe, fold: int | None, data_info: dict
) -> dict[str, Any]:
    """What must match for ``--resume`` to continue a run (the epoch count may grow)."""
    recipe_dict = recipe.to_dict()
    recipe_dict.pop("epochs")
    return {
        "model": config.model,
        "model_kwargs": {k: v for k, v in config.model_kwargs.items() if jsonable(v)},
        "recipe": recipe_dict,
        "seed": config.seed,
        "fold": fold,
        "data": data_info["names"],
        "n_train": data_info["n_train"],
        "train_ids_sha256": digest(data_info["train_ids"]),
        "val_ids_sha256": digest(data_info["val_ids"]),
        "init_sha256": (data_info.get("init") or {}).get("sha256"),
    }


def digest(ids: list[str]) -> str:
    """sha256 of a set of sample ids (order-free): names the exact images of a split."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def jsonable(value: Any) -> bool:
    """True when ``value`` can be stored as JSON."""
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def same_run(saved: dict[str, Any], current: dict[str, Any], val_ids: list[str]) -> bool:
    """True when a saved run's identity matches this one's (states of earlier versions included)."""
    core = {"model", "recipe", "seed", "fold", "n_train"}
    shared = set(saved) & set(current)
    if not core <= shared or any(saved[key] != current[key] for key in shared):
        return False
    return "val_ids" not in saved or sorted(saved["val_ids"]) == sorted(val_ids)


def save_state(
    path, identity, epoch, model, optimizer, scheduler, history, best, elapsed, partial=None
) -> None:
    """Write the resumable state; ``epoch`` is the last complete epoch, ``partial`` a started one."""
    state = {
        "format": STATE_FORMAT,
        "identity": identity,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": D.rng_state(),
        "history": history,
        "best": best,
        "elapsed_s": elapsed,
        "partial": partial,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def save_best_checkpoint(
    path, model, config: TrainConfig, recipe: Recipe, data_info, best, history, elapsed, ctx
) -> None:
    """Write the endobench checkpoint of the best epoch with its training and validation metadata."""
    from endobench.env import environment
    from endobench.models.checkpoint import save_checkpoint

    cfg = dict(getattr(model, "endobench_cfg", None) or {})
    metadata = {
        "model": config.model,
        "input_size": recipe.size,
        "mean": list(cfg.get("mean", (0.485, 0.456, 0.406))),
        "std": list(cfg.get("std", (0.229, 0.224, 0.225))),
        "training": {
            "data": data_info["train"],
            "validation": data_info["validation"],
            "n_train": data_info["n_train"],
            "n_val": data_info["n_val"],
            # Held-back validation images by id, so `endobench calibrate` can find them again.
            "validation_ids": sorted(data_info["val_ids"])
            if not data_info.get("val_external")
            else None,
            "recipe": recipe.to_dict(),
            "seed": config.seed,
            "init": data_info.get("init"),
            "epochs_trained": history[-1]["epoch"],
            "best_epoch": best["epoch"],
            "selection": "best validation mean Dice (0.5)"
            if best["val_dice"] is not None
            else "last epoch (no validation data)",
            "seconds": round(elapsed, 1),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "world_size": ctx.world_size,
            "device": str(ctx.device),
            "amp": config.amp,
            "machine": environment(),
        },
        "validation_metrics": {
            "mean_dice_0.5": best["val_dice"],
            "loss": best.get("val_loss"),
            "n_images": data_info["n_val"],
        },
    }
    save_checkpoint(path, model, metadata, overwrite=True)


def write_summary(config: TrainConfig, recipe: Recipe, runs: list[RunResult], mean, std) -> None:
    """Write the cross-validation summary: combined history CSV and plot, ``summary.json``."""
    rows = [row for run in runs for row in run.history]
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
                for r in runs
            ],
            "val_dice_mean": mean,
            "val_dice_std": std,
        },
    )
