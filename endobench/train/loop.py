"""`endobench train`: the training loop (recipe, k-fold, validation, checkpoints, resume, DDP).

One run trains one model on one (train, validation) split. Every epoch it writes, atomically and
from rank 0 only: the history CSV and plot, the endobench checkpoint of the best epoch so far
(chosen on validation Dice, never on a test set) and ``state.pt``, a resumable training state
(weights, optimiser, scheduler, random generators, epoch, history), which is also saved every
``checkpoint_minutes`` inside an epoch. The order of the training data in epoch ``e`` depends on
``(seed, e)`` only, so ``--resume`` continues an interrupted run exactly, even from the middle of
an epoch: bit for bit on CPU.

``init`` starts a new run from trained weights instead of the ImageNet initialisation (a second
stage at a lower learning rate or with other scales, say). Its validation images must be ones the
starting weights never trained on; the run records the starting file's sha256 and training.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from endobench.errors import ConfigError
from endobench.models.checkpoint import load_weights, read_weights
from endobench.train import distributed as D
from endobench.train import epoch as E
from endobench.train import records as R
from endobench.train.history import plot_history, write_history_csv
from endobench.train.pairs import (
    Pair,
    ResizedPairs,
    cache_pairs,
    resolve_pairs,
    split_pairs,
)
from endobench.train.progress import EpochProgress
from endobench.train.recipe import Recipe, recipe_for

STATE_FILE = "state.pt"
BEST_FILE = "best.safetensors"


@dataclass
class TrainConfig:
    """Everything one ``endobench train`` invocation needs.

    Attributes:
        model: Registered model name.
        data: Training data set names or folders.
        out: Output folder (one sub-folder per fold when cross-validating).
        val_data: Validation data set names or folders (else held back from ``data``).
        data_root: Where named data sets live.
        recipe: Hyper-parameters; None takes the model's published recipe.
        seed: Seeds initialisation, data order and the splits.
        folds: Cross-validation folds (None: the recipe's); ignored when ``val_data`` or
            ``val_fraction`` is given.
        fold: Train only this fold.
        val_fraction: Hold back this share of ``data`` for validation instead of k-fold.
        resume: Continue the runs found in ``out``.
        device: ``auto``, ``cpu`` or ``cuda``.
        amp: bfloat16 autocast.
        channels_last: Train in channels-last memory format (about 3x faster for brp_lite's
            depthwise convolutions on CPU; also the faster layout on GPU).
        workers: DataLoader worker processes for decoding.
        cache: Keep decoded, resized pairs in memory.
        limit: Use only the first N training pairs of each split (timing probes, smoke tests).
        model_kwargs: Extra factory arguments (``pretrained_backbone=True`` is added for training).
        model_factory: Build the model with this callable instead of the registry (tests).
        progress: Show rich progress bars (rank 0).
        checkpoint_minutes: Also save the resumable state inside an epoch every this many minutes
            (an interrupted epoch then resumes from its last saved batch); 0 saves at epoch ends only.
        init: Start from these weights (an endobench checkpoint or a state dict the model's
            checkpoint filter accepts) instead of the ImageNet initialisation.
    """

    model: str
    data: list[str]
    out: Path
    val_data: list[str] = field(default_factory=list)
    data_root: str | None = None
    recipe: Recipe | None = None
    seed: int = 0
    folds: int | None = None
    fold: int | None = None
    val_fraction: float | None = None
    resume: bool = False
    device: str = "auto"
    amp: bool = False
    channels_last: bool = True
    workers: int = 2
    cache: bool = True
    limit: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    model_factory: Callable[[], torch.nn.Module] | None = None
    progress: bool = True
    checkpoint_minutes: float = 10.0
    init: Path | None = None


@dataclass
class RunResult:
    """One trained model: its folder, best epoch, history and (in memory) its last weights."""

    label: str
    fold: int | None
    folder: Path
    epochs_done: int
    best_epoch: int | None
    best_val_dice: float | None
    checkpoint: Path
    history: list[dict[str, Any]]
    seconds: float
    n_train: int
    n_val: int
    final_state: dict[str, torch.Tensor] | None = None


@dataclass
class TrainResult:
    """Every run of an invocation and, over folds, the validation Dice mean and std."""

    out: Path
    runs: list[RunResult]
    val_dice_mean: float | None
    val_dice_std: float | None


def train(config: TrainConfig) -> TrainResult:
    """Train as configured; see the module docstring for what is written where.

    Raises:
        ConfigError: Inconsistent options, or an existing run in ``out`` without ``resume``.
        DataError: Data that cannot be read or paired.
    """
    recipe = (config.recipe or recipe_for(config.model)).replace()
    folds = recipe.folds if config.folds is None else config.folds
    start = read_weights(config.model, config.init) if config.init else None
    ctx = D.setup(config.device)
    try:
        pairs, described = resolve_pairs(config.data, config.data_root)
        if config.val_data:
            if config.fold is not None or config.val_fraction:
                raise ConfigError(
                    "--val-data cannot be combined with --fold or --val-fraction; drop one"
                )
            val_pairs, val_described = resolve_pairs(config.val_data, config.data_root)
            splits = [(None, pairs, val_pairs)]
        else:
            val_described = []
            use_folds = 0 if config.val_fraction else folds
            splits = split_pairs(
                pairs,
                folds=use_folds,
                fold=config.fold,
                val_fraction=config.val_fraction,
                seed=config.seed,
            )
        multi = len(splits) > 1 or splits[0][0] is not None
        runs = []
        for fold, train_pairs, val_pairs in splits:
            if config.limit:
                train_pairs = train_pairs[: config.limit]
            folder = config.out / f"fold{fold}" if multi else config.out
            label = f"fold{fold} {recipe.size}px" if fold is not None else f"{recipe.size}px"
            data_info = {
                "names": list(config.data),
                "train": described,
                "validation": val_described or _held_back(folds, fold, config.val_fraction),
                "n_train": len(train_pairs),
                "n_val": len(val_pairs),
                "train_ids": [p.id for p in train_pairs],
                "val_ids": [p.id for p in val_pairs],
                "val_external": bool(config.val_data),
            }
            if start is not None:
                check_start_split(start, config.init, data_info["val_ids"])
                data_info["init"] = describe_start(start)
            runs.append(
                _train_one(
                    config,
                    recipe,
                    ctx,
                    train_pairs,
                    val_pairs,
                    folder,
                    label,
                    fold,
                    data_info,
                    start,
                )
            )
        dices = [r.best_val_dice for r in runs if r.best_val_dice is not None]
        mean = statistics.fmean(dices) if dices else None
        std = statistics.pstdev(dices) if len(dices) > 1 else (0.0 if dices else None)
        if ctx.is_main and multi:
            R.write_summary(config, recipe, runs, mean, std)
        return TrainResult(config.out, runs, mean, std)
    finally:
        D.teardown(ctx)


def check_start_split(start: tuple[dict, dict], path: Path | None, val_ids: list[str]) -> None:
    """Refuse validation images the starting weights were trained on.

    endobench checkpoints list the images their run held back; a validation image outside that
    list was a training image of the starting run, so choosing epochs on it would be biased.

    Raises:
        ConfigError: When some validation images were training images of the starting run.
    """
    held_back = _training_record(start[1]).get("validation_ids") or None
    if held_back is None:
        return
    seen = sorted(set(val_ids) - set(held_back))
    if seen:
        raise ConfigError(
            f"{path}: {len(seen)} of this run's validation images (e.g. {seen[0]}) trained those "
            "weights; validate on the images they held back (same --data, --seed and --val-fraction)"
        )


def describe_start(start: tuple[dict, dict]) -> dict[str, Any]:
    """What the run records about its starting weights: file name, sha256 and their training."""
    metadata = start[1]
    training = _training_record(metadata)
    kept = ("recipe", "seed", "epochs_trained", "best_epoch", "seconds", "init")
    return {
        "file": Path(metadata.get("path", "")).name,
        "sha256": metadata.get("sha256"),
        "model": metadata.get("model"),
        "training": {key: training[key] for key in kept if key in training},
        "validation_metrics": metadata.get("validation_metrics"),
    }


def _training_record(metadata: dict[str, Any]) -> dict[str, Any]:
    """The ``training`` metadata of a checkpoint, or {} where there is none (or only words)."""
    training = metadata.get("training")
    return training if isinstance(training, dict) else {}


def _held_back(folds: int, fold: int | None, val_fraction: float | None) -> list[str]:
    if val_fraction:
        return [f"{val_fraction:g} of the training data held back (seeded)"]
    if folds >= 2:
        return [f"fold {fold} of {folds} (k-fold of the training data, seeded)"]
    return []


def _build_model(
    config: TrainConfig, resume_from: dict[str, torch.Tensor] | None = None
) -> torch.nn.Module:
    """Build the model to train; when resuming, with the constructor arguments its weights imply
    (e.g. head widths of a run started with an earlier default)."""
    if config.model_factory is not None:
        return config.model_factory()
    from endobench.models import create_model, model_config

    kwargs = {"pretrained_backbone": True, **config.model_kwargs}
    infer = model_config(config.model).infer_kwargs
    if resume_from is not None and infer is not None:
        kwargs = {**infer(resume_from), **kwargs}
    return create_model(config.model, **kwargs)


def _normalisation(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = getattr(model, "endobench_cfg", None) or {}
    mean = cfg.get("mean", (0.485, 0.456, 0.406))
    std = cfg.get("std", (0.229, 0.224, 0.225))
    return torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)


def _train_one(
    config: TrainConfig,
    recipe: Recipe,
    ctx: D.DistContext,
    train_pairs: list[Pair],
    val_pairs: list[Pair],
    folder: Path,
    label: str,
    fold: int | None,
    data_info: dict[str, Any],
    start: tuple[dict, dict] | None = None,
) -> RunResult:
    if recipe.batch_size % ctx.world_size:
        raise ConfigError(
            f"--batch-size {recipe.batch_size} must be divisible by the {ctx.world_size} processes"
        )
    identity = R.run_identity(config, recipe, fold, data_info)
    state_path = folder / STATE_FILE
    state = None
    exists = state_path.exists() or (folder / BEST_FILE).exists()
    if D.broadcast_flag(ctx, exists) and not config.resume:
        raise ConfigError(
            f"{folder} already holds a training run; pass --resume to continue it or choose another --out"
        )
    if config.resume and state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state.get("format") != R.STATE_FORMAT or not R.same_run(
            state.get("identity", {}), identity, data_info["val_ids"]
        ):
            raise ConfigError(
                f"{state_path} was written by a run with other settings (model, data, recipe, seed or fold); "
                "resume with the same options or choose another --out"
            )

    D.seed_everything(config.seed)
    weights_from = state["model"] if state is not None else start[0] if start else None
    model = _build_model(config, weights_from)
    if state is None and start is not None:
        load_weights(model, config.init, config.model, loaded=start)
    model = model.to(ctx.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=recipe.lr_decay_epochs, gamma=recipe.lr_decay_rate
    )
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": None, "val_dice": None}
    start_epoch, elapsed, partial = 1, 0.0, None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        D.set_rng_state(state["rng"])
        history, best = state["history"], state["best"]
        start_epoch, elapsed, partial = state["epoch"] + 1, state["elapsed_s"], state.get("partial")
    net = model
    if ctx.distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None
        )
    mean, std = (t.to(ctx.device) for t in _normalisation(model))
    progress = EpochProgress(enabled=config.progress and ctx.is_main)

    if start_epoch <= recipe.epochs:
        train_source = _source(
            train_pairs, recipe.size, config, progress, "decoding training pairs", False
        )
        val_source = (
            _source(val_pairs, recipe.size, config, progress, "decoding validation pairs", True)
            if val_pairs
            else None
        )
    last_save = time.monotonic()
    for epoch in range(start_epoch, recipe.epochs + 1):
        tic = time.perf_counter()
        resumed = partial if partial and partial["epoch"] == epoch else None
        before = resumed["seconds"] if resumed else 0.0

        def save_partial(
            batches_done: int,
            total: float,
            count: float,
            epoch: int = epoch,
            tic: float = tic,
            before: float = before,
            best: dict = best,
            elapsed: float = elapsed,
        ) -> None:
            nonlocal last_save
            due = (
                config.checkpoint_minutes > 0
                and time.monotonic() - last_save >= config.checkpoint_minutes * 60
            )
            if not ctx.is_main or not due:
                return
            seconds = before + time.perf_counter() - tic
            where = {
                "epoch": epoch,
                "batches_done": batches_done,
                "total": total,
                "count": count,
                "seconds": seconds,
            }
            R.save_state(
                state_path,
                identity,
                epoch - 1,
                model,
                optimizer,
                scheduler,
                history,
                best,
                elapsed,
                where,
            )
            last_save = time.monotonic()

        train_loss = E.train_epoch(
            net,
            optimizer,
            train_source,
            recipe,
            config,
            ctx,
            mean,
            std,
            epoch,
            progress,
            label,
            resumed=resumed,
            on_batch=save_partial,
        )
        D.sync_buffers(ctx, model)
        val_loss, val_dice = (None, None)
        if val_source is not None:
            val_loss, val_dice = E.validate(model, val_source, recipe, config, ctx, mean, std)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        seconds = before + time.perf_counter() - tic
        elapsed += seconds
        row = {
            "run": label,
            "epoch": epoch,
            "lr": lr,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_dice": val_dice,
            "seconds": seconds,
            "images_per_s": len(train_pairs) / seconds,
        }
        history.append(row)
        improved = val_dice is None or best["val_dice"] is None or val_dice > best["val_dice"]
        if improved:
            best = {
                "epoch": epoch,
                "val_dice": val_dice,
                "val_loss": val_loss,
                "train_loss": train_loss,
            }
        if ctx.is_main:
            progress.log(
                f"{label} epoch {epoch}/{recipe.epochs}: train loss {train_loss:.4f}"
                + (
                    f", val loss {val_loss:.4f}, val Dice {val_dice:.4f}"
                    if val_dice is not None
                    else ""
                )
                + (" (best)" if improved and val_dice is not None else "")
            )
            if improved:
                R.save_best_checkpoint(
                    folder / BEST_FILE,
                    model,
                    config,
                    recipe,
                    data_info,
                    best,
                    history,
                    elapsed,
                    ctx,
                )
            write_history_csv(folder / "history.csv", history)
            plot_history(folder / "curves.png", history, title=f"{config.model} {label}")
            R.save_state(
                state_path, identity, epoch, model, optimizer, scheduler, history, best, elapsed
            )
            last_save = time.monotonic()
        D.barrier(ctx)
    progress.close()
    return RunResult(
        label=label,
        fold=fold,
        folder=folder,
        epochs_done=history[-1]["epoch"] if history else 0,
        best_epoch=best["epoch"],
        best_val_dice=best["val_dice"],
        checkpoint=folder / BEST_FILE,
        history=history,
        seconds=elapsed,
        n_train=len(train_pairs),
        n_val=len(val_pairs),
        final_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    )


def _source(pairs, size, config: TrainConfig, progress: EpochProgress, what: str, originals: bool):
    if not config.cache:
        return ResizedPairs(pairs, size, keep_original_mask=originals)
    with progress.task(what, total=len(pairs)) as advance:
        return cache_pairs(
            pairs, size, workers=config.workers, keep_original_mask=originals, progress=advance
        )


def describe(result: TrainResult) -> str:
    """A few lines for the terminal: each run's best epoch and, over folds, mean +- std."""
    lines = []
    for run in result.runs:
        dice = "n/a" if run.best_val_dice is None else f"{run.best_val_dice:.4f}"
        lines.append(
            f"{run.label}: best epoch {run.best_epoch} (validation mean Dice {dice}, {run.n_val} images) "
            f"-> {run.checkpoint}"
        )
    if len(result.runs) > 1 and result.val_dice_mean is not None:
        lines.append(
            f"validation mean Dice over folds: {result.val_dice_mean:.4f} +- {result.val_dice_std:.4f}"
        )
    return "\n".join(lines)
