"""The state of one fold's training, as one object saved and resumed whole.

:class:`FoldState` holds what a fold trains with (options, recipe, process group, plan, the model
and its DDP wrapper, input normalisation) and what training changes (weights, Adam, the learning
rate schedule, the last complete epoch, the best epoch so far, the history, the elapsed seconds,
a started epoch). :meth:`FoldState.save` writes the changing part and every random generator's
state to ``state.pt``; :func:`open_fold_state` builds a fresh state or resumes a saved one. A
run's *identity* (model, recipe but its epoch count, seed, fold, data and the exact image ids)
must match for ``--resume`` to continue it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import endobench.train.distributed as D
from endobench.errors import ConfigError
from endobench.models.checkpoint import load_weights
from endobench.train.batch_mix import TrainingMix
from endobench.train.fold_plan import FoldPlan
from endobench.train.options import TrainConfig
from endobench.train.recipe import Recipe
from endobench.train.results import FoldResult

STATE_FILE = "state.pt"
BEST_FILE = "best.safetensors"
STATE_FORMAT = "endobench-train-state/1"


@dataclass(eq=False)
class FoldState:
    """One fold in training: what it trains with, and what training changes.

    Attributes:
        config: The invocation's options.
        recipe: The resolved recipe.
        ctx: This process's place in the process group (and its device).
        plan: The fold's images, label and folder.
        identity: What must match for ``--resume`` (see :func:`run_identity`).
        model: The model (on the device, unwrapped).
        net: The model as trained: ``model`` itself, or its DDP wrapper.
        optimizer: Adam over the model's parameters.
        scheduler: The step learning-rate schedule.
        mean: Input normalisation mean, 1x3x1x1 on the device.
        std: Input normalisation std, 1x3x1x1 on the device.
        epoch: The last complete epoch (0 before the first).
        best: ``epoch``, ``val_dice``, ``val_loss``, ``train_loss`` of the best epoch so far.
        history: One row per complete epoch (see :mod:`endobench.train.history`).
        elapsed_s: Seconds of the complete epochs.
        partial: A started epoch saved mid-way (``epoch``, ``batches_done``, loss ``total`` and
            ``count``, training ``seconds``), or None.
        mix: The layout of the training source when it holds negatives, else None
            (:class:`~endobench.train.negative_mix.TrainingMix`).
    """

    config: TrainConfig
    recipe: Recipe
    ctx: D.DistContext
    plan: FoldPlan
    identity: dict[str, Any]
    model: torch.nn.Module
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    mean: torch.Tensor
    std: torch.Tensor
    epoch: int = 0
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": None, "val_dice": None})
    history: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    partial: dict[str, Any] | None = None
    mix: TrainingMix | None = None

    @property
    def path(self):
        """The ``state.pt`` file of this fold."""
        return self.plan.folder / STATE_FILE

    @property
    def finished(self) -> bool:
        """True when every epoch of the recipe is done."""
        return self.epoch >= self.recipe.epochs

    def resumed_partial(self) -> dict[str, Any] | None:
        """The saved part of the next epoch, when an interrupted run saved one."""
        if self.partial and self.partial["epoch"] == self.epoch + 1:
            return self.partial
        return None

    def to_dict(self, partial: dict[str, Any] | None = None) -> dict[str, Any]:
        """What :meth:`save` writes: the changing part, every random generator, the identity."""
        return {
            "format": STATE_FORMAT,
            "identity": self.identity,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": D.rng_state(),
            "history": self.history,
            "best": self.best,
            "elapsed_s": self.elapsed_s,
            "partial": partial,
        }

    def save(self, partial: dict[str, Any] | None = None) -> None:
        """Write ``state.pt`` atomically; ``partial`` describes a started epoch (mid-epoch save)."""
        from endobench.io import atomic_path

        with atomic_path(self.path) as tmp:
            torch.save(self.to_dict(partial), tmp)

    def restore(self, saved: dict[str, Any]) -> None:
        """Continue from what :meth:`to_dict` returned (weights, Adam, schedule, generators, ...)."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        D.set_rng_state(saved["rng"])
        self.history, self.best = saved["history"], saved["best"]
        self.epoch, self.elapsed_s = saved["epoch"], saved["elapsed_s"]
        self.partial = saved.get("partial")

    def end_epoch(self, row: dict[str, Any]) -> bool:
        """Record a complete epoch's history row; returns True when it is the best so far.

        Without validation data every epoch counts as the best (the last one is kept).
        """
        self.history.append(row)
        self.epoch, self.partial = row["epoch"], None
        self.elapsed_s += row["seconds"]
        score = selection_score(row, self.recipe.select)
        best = self.best.get("score", self.best["val_dice"])
        improved = score is None or best is None or score > best
        if improved:
            self.best = {
                "epoch": row["epoch"],
                "val_dice": row["val_dice"],
                "val_loss": row["val_loss"],
                "train_loss": row["train_loss"],
            }
            if self.recipe.select != "dice":
                self.best["score"] = score
        return improved

    def result(self) -> FoldResult:
        """The fold's result, with a CPU copy of its last weights."""
        return FoldResult(
            label=self.plan.label,
            fold=self.plan.fold,
            folder=self.plan.folder,
            epochs_done=self.history[-1]["epoch"] if self.history else 0,
            best_epoch=self.best["epoch"],
            best_val_dice=self.best["val_dice"],
            checkpoint=self.plan.folder / BEST_FILE,
            history=self.history,
            seconds=self.elapsed_s,
            n_train=len(self.plan.train_pairs),
            n_val=len(self.plan.val_pairs),
            final_state={k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
        )


def open_fold_state(
    config: TrainConfig,
    recipe: Recipe,
    ctx: D.DistContext,
    plan: FoldPlan,
    start: tuple[dict, dict] | None = None,
) -> FoldState:
    """Build a fold's state: fresh (from ImageNet or ``start`` weights) or resumed from ``state.pt``.

    Raises:
        ConfigError: A batch that does not split over the processes, an existing run without
            ``config.resume``, or a saved run with other settings.
    """
    if recipe.batch_size % ctx.world_size:
        raise ConfigError(
            f"--batch-size {recipe.batch_size} must be divisible by the {ctx.world_size} processes"
        )
    identity = run_identity(config, recipe, plan.fold, plan.data_info)
    saved = _saved_state(config, ctx, plan, identity)
    D.seed_everything(config.seed)
    model = build_model(config, saved["model"] if saved else start[0] if start else None)
    if saved is None and start is not None:
        load_weights(model, config.init, config.model, loaded=start)
    model = model.to(ctx.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=recipe.lr_decay_epochs, gamma=recipe.lr_decay_rate
    )
    mean, std = (t.to(ctx.device) for t in normalisation(model))
    state = FoldState(
        config, recipe, ctx, plan, identity, model, model, optimizer, scheduler, mean, std
    )
    if saved is not None:
        state.restore(saved)
    if ctx.distributed:
        state.net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None
        )
    return state


def _saved_state(
    config: TrainConfig, ctx: D.DistContext, plan: FoldPlan, identity: dict[str, Any]
) -> dict[str, Any] | None:
    """The saved state to resume (None for a fresh run), after the overwrite and identity checks."""
    path = plan.folder / STATE_FILE
    exists = path.exists() or (plan.folder / BEST_FILE).exists()
    if D.broadcast_flag(ctx, exists) and not config.resume:
        raise ConfigError(
            f"{plan.folder} already holds a training run; pass --resume to continue it or choose another --out"
        )
    if not (config.resume and path.exists()):
        return None
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if saved.get("format") != STATE_FORMAT or not same_run(
        saved.get("identity", {}), identity, plan.data_info["val_ids"]
    ):
        raise ConfigError(
            f"{path} was written by a run with other settings (model, data, recipe, seed or fold); "
            "resume with the same options or choose another --out"
        )
    return saved


#: The official ImageNet file of the Res2Net models' backbone (``pranet``, ``brp*``).
RES2NET_IMAGENET_FILE = "res2net50_v1b_26w_4s-3cf99910.pth"


def check_backbone_weights(config: TrainConfig) -> None:
    """Refuse, in one line, a ``--backbone-weights`` file that is missing or that ``--init`` would
    make pointless.

    Raises:
        ConfigError: Both ``--backbone-weights`` and ``--init`` are given.
        WeightsError: The file does not exist.
    """
    from endobench.errors import WeightsError

    path = config.model_kwargs.get("backbone_weights")
    if path is None:
        return
    if config.init is not None:
        raise ConfigError(
            "--backbone-weights and --init contradict each other (--init replaces every "
            "weight); pass one of them"
        )
    if not Path(path).is_file():
        raise WeightsError(
            f"--backbone-weights {path}: no such file; pass the backbone's ImageNet file "
            f"(for pranet and brp*: the official {RES2NET_IMAGENET_FILE}; nothing is downloaded)"
        )


def build_model(
    config: TrainConfig, resume_from: dict[str, torch.Tensor] | None = None
) -> torch.nn.Module:
    """Build the model to train; when resuming, with the constructor arguments its weights imply
    (e.g. head widths of a run started with an earlier default)."""
    if config.model_factory is not None:
        return config.model_factory()
    from endobench.models import create_model, model_config

    # Weights that replace every tensor (resumed state, --init) need no ImageNet backbone first.
    kwargs: dict[str, Any] = {"pretrained_backbone": resume_from is None, **config.model_kwargs}
    infer = model_config(config.model).infer_kwargs
    if resume_from is not None and infer is not None:
        kwargs = {**infer(resume_from), **kwargs}
    return create_model(config.model, **kwargs)


def normalisation(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's input mean and std as 1x3x1x1 tensors (ImageNet's when it names none)."""
    cfg = getattr(model, "endobench_cfg", None) or {}
    mean = cfg.get("mean", (0.485, 0.456, 0.406))
    std = cfg.get("std", (0.229, 0.224, 0.225))
    return torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)


def run_identity(
    config: TrainConfig, recipe: Recipe, fold: int | None, data_info: dict
) -> dict[str, Any]:
    """What must match for ``--resume`` to continue a run (the epoch count may grow)."""
    recipe_dict = recipe.to_dict()
    recipe_dict.pop("epochs")
    if not recipe_dict.get("freeze_norm"):  # identities of earlier versions stay valid
        recipe_dict.pop("freeze_norm", None)
    recipe_dict.pop("val_fraction", None)  # the validation ids are part of the identity
    negatives = data_info.get("negative_train_ids", []) + data_info.get("negative_val_ids", [])
    uses_negatives = bool(negatives) or bool(data_info.get("negative_crops"))
    if not uses_negatives:  # runs without negatives keep the identity of earlier versions
        recipe_dict.pop("negative_fraction", None)
    if not (recipe_dict.get("frame_share") and data_info.get("negative_train_ids")):
        recipe_dict.pop("frame_share", None)  # off, or nothing to frame: as earlier versions
    weak = data_info.get("weak_train_ids", [])
    if not weak:
        recipe_dict.pop("weak_fraction", None)
        recipe_dict.pop("frame_loss", None)
    for key, default in (("augment", False), ("select", "dice")):
        if recipe_dict.get(key) == default:
            recipe_dict.pop(key, None)
    identity = {
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
    if uses_negatives:
        identity["negative_ids_sha256"] = digest(negatives)
        identity["negative_crops"] = bool(data_info.get("negative_crops"))
    frames = weak + data_info.get("weak_val_ids", [])
    if frames:
        identity["weak_ids_sha256"] = digest(frames)
    return identity


def selection_score(row: dict[str, Any], rule: str) -> float | None:
    """The number an epoch is chosen on (higher is better; None without validation data).

    ``dice``: the validation Dice (the published recipes). ``balanced``: the validation Dice plus
    the share of validation polyp frames found minus the share of validation polyp-free frames
    called polyp (each term left out when its frames are absent), so an epoch that buys Dice with
    missed polyp frames or false alarms is not chosen.
    """
    dice = row.get("val_dice")
    if rule == "dice" or dice is None:
        return dice
    found, fp = row.get("val_found_rate"), row.get("val_fp_rate")
    return dice + (found if found is not None else 0.0) - (fp if fp is not None else 0.0)


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
