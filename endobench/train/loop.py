"""`endobench train`: the training loop over folds and epochs.

One fold trains one model on one (train, validation) split (:mod:`endobench.train.fold_plan`).
Every epoch it writes, atomically and from rank 0 only: the history CSV and plot, the endobench
checkpoint of the best epoch so far (chosen on validation Dice, never on a test set) and
``state.pt``, the whole :class:`~endobench.train.fold_state.FoldState` (weights, optimiser,
scheduler, random generators, epoch, history), which is also saved every ``checkpoint_minutes``
inside an epoch. The order of the training data in epoch ``e`` depends on ``(seed, e)`` only, so
``--resume`` continues an interrupted run exactly, even from the middle of an epoch: bit for bit
on CPU.

``init`` starts a new run from trained weights instead of the ImageNet initialisation (a second
stage at a lower learning rate or with other scales, say). Its validation images must be ones the
starting weights never trained on; the run records the starting file's sha256 and training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from torch.utils.data import Dataset

import endobench.train.distributed as D
from endobench.models.checkpoint import read_weights
from endobench.stopping import Interrupted, stop_requested
from endobench.train.display import TrainingDisplay
from endobench.train.epoch import train_epoch, validate
from endobench.train.fold_plan import FoldPlan, plan_training
from endobench.train.fold_state import FoldState, check_backbone_weights, open_fold_state
from endobench.train.negative_mix import describe_mix, training_pairs
from endobench.train.negative_validation import frame_call_rate
from endobench.train.options import TrainConfig
from endobench.train.outputs import write_epoch_outputs, write_status, write_summary
from endobench.train.pairs import DeviceCachedPairs, Pair, ResizedPairs, cache_pairs
from endobench.train.plan_line import plan_line, step_seconds
from endobench.train.recipe import Recipe, recipe_for
from endobench.train.results import FoldResult, TrainResult, summarise


def train(config: TrainConfig, display: TrainingDisplay | None = None) -> TrainResult:
    """Train as configured; see the module docstring for what is written where.

    Args:
        config: The options.
        display: Where bars and announcements go (default: the terminal when ``config.progress``,
            on rank 0 only).

    Raises:
        ConfigError: Inconsistent options, or an existing run in ``out`` without ``resume``.
        DataError: Data that cannot be read or paired.
    """
    recipe = (config.recipe or recipe_for(config.model)).replace()
    check_backbone_weights(config)
    config = config.with_recipe_validation(recipe)
    start = read_weights(config.model, config.init) if config.init else None
    ctx = D.setup(config.device)
    if display is None or not ctx.is_main:
        display = TrainingDisplay(enabled=config.progress and ctx.is_main)
    try:
        plan = plan_training(config, recipe, start)
        display.log(plan.announcement)
        seconds = step_seconds(config, recipe, ctx.device) if display.enabled else None
        display.log(plan_line(config, recipe, plan, seconds))
        runs = [train_fold(config, recipe, ctx, fold, display, start) for fold in plan.folds]
        result = summarise(config.out, runs)
        if ctx.is_main and plan.cross_validation:
            write_summary(config, recipe, result)
        return result
    finally:
        display.close()
        D.teardown(ctx)


def train_fold(
    config: TrainConfig,
    recipe: Recipe,
    ctx: D.DistContext,
    plan: FoldPlan,
    display: TrainingDisplay,
    start: tuple[dict, dict] | None = None,
) -> FoldResult:
    """Train (or resume) one fold to the recipe's last epoch; returns its result."""
    state = open_fold_state(config, recipe, ctx, plan, start)
    if state.finished:
        return state.result()
    crops = bool(plan.data_info.get("negative_crops"))
    framing = len(plan.negative_train) if recipe.frame_share > 0 else 0
    total = len(plan.train_pairs) * crops + framing
    with display.task("choosing negative crops and views", total=total) as advance:
        pairs, mix = training_pairs(
            plan,
            config.seed,
            recipe.negative_fraction,
            advance,
            recipe.frame_share,
            recipe.weak_fraction,
        )
    state.mix = mix if mix.has_negatives or mix.has_weak else None
    negatives_line = describe_mix(plan, mix, recipe.batch_size)
    if negatives_line:
        display.log(negatives_line)
    train_source = _source(pairs, state, display, "decoding training pairs", False)
    frames = FrameSources(
        negatives=_optional_source(plan.negative_val, state, display, "validation negatives"),
        weak=_optional_source(plan.weak_val, state, display, "validation polyp frames"),
    )
    val_source = (
        _source(plan.val_pairs, state, display, "decoding validation pairs", True)
        if plan.val_pairs
        else None
    )
    saver = MidEpochSaver(state)
    try:
        with display.task(
            f"{plan.label} epochs", total=recipe.epochs, completed=state.epoch
        ) as step:
            while not state.finished:
                run_epoch(state, train_source, val_source, display, saver, frames)
                step()
    except Interrupted:
        if ctx.is_main:
            write_status(plan.folder, "interrupted", state.epoch, recipe.epochs)
        raise
    if ctx.is_main:
        write_status(plan.folder, "complete", state.epoch, recipe.epochs)
    return state.result()


@dataclass
class FrameSources:
    """A fold's frame-level validation sets at the training size (None when it has none).

    Attributes:
        negatives: Polyp-free frames: the share called positive is ``val_fp_rate``.
        weak: Frames that show a polyp (no mask): the share called positive is
            ``val_found_rate``.
    """

    negatives: Dataset | None = None
    weak: Dataset | None = None


def run_epoch(
    state: FoldState,
    train_source: Dataset,
    val_source: Dataset | None,
    display: TrainingDisplay,
    saver: MidEpochSaver,
    frames: FrameSources | None = None,
) -> None:
    """Train and validate the next epoch, record it, and (rank 0) write its outputs and state.

    ``frames`` holds the fold's validation frames without masks: the false-positive frame rate of
    its negatives (``val_fp_rate``) and the found rate of its polyp frames (``val_found_rate``)
    are recorded; the best epoch is chosen by the recipe's ``select`` rule.
    """
    tic = time.perf_counter()
    frames = frames or FrameSources()
    resumed = state.resumed_partial()
    before = resumed["seconds"] if resumed else 0.0
    train_loss, train_seconds, images = train_epoch(state, train_source, display, on_batch=saver)
    D.sync_buffers(state.ctx, state.model)
    val_loss = val_dice = None
    val_seconds = 0.0
    if val_source is not None:
        val_loss, val_dice, val_seconds = validate(state, val_source, display)
    rates = {}
    for key, source, pairs, what in (
        ("val_fp_rate", frames.negatives, state.plan.negative_val, "negatives"),
        ("val_found_rate", frames.weak, state.plan.weak_val, "polyp frames"),
    ):
        rates[key] = None
        if source is not None:
            rates[key], seconds = frame_call_rate(state, source, pairs, display, what)
            val_seconds += seconds
    lr = state.optimizer.param_groups[0]["lr"]
    state.scheduler.step()
    row = {
        "run": state.plan.label,
        "epoch": state.epoch + 1,
        "lr": lr,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_dice": val_dice,
        **rates,
        "seconds": before + time.perf_counter() - tic,
        "train_seconds": train_seconds,
        "val_seconds": None if val_source is None and not rates_given(frames) else val_seconds,
        "images_per_s": images / train_seconds,
    }
    improved = state.end_epoch(row)
    if state.ctx.is_main:
        display.log(epoch_line(state, row, improved))
        write_epoch_outputs(state, improved)
        state.save()
        saver.saved()
    D.barrier(state.ctx)


def rates_given(frames: FrameSources) -> bool:
    """Whether any frame-level validation set exists."""
    return frames.negatives is not None or frames.weak is not None


def epoch_line(state: FoldState, row: dict[str, Any], improved: bool) -> str:
    """``fold0 352px epoch 3/20: train loss 0.41, val loss 0.52, val Dice 0.81 (best), 8.1 img/s``."""
    text = f"{row['run']} epoch {row['epoch']}/{state.recipe.epochs}: train loss {row['train_loss']:.4f}"
    if row["val_dice"] is not None:
        text += f", val loss {row['val_loss']:.4f}, val Dice {row['val_dice']:.4f}"
        text += " (best)" if improved else ""
    if row.get("val_fp_rate") is not None:
        text += f", val false-positive frames {row['val_fp_rate']:.3f}"
    if row.get("val_found_rate") is not None:
        text += f", val polyp frames found {row['val_found_rate']:.3f}"
    text += f"; training {row['images_per_s']:.2f} img/s"
    if row["val_seconds"] is not None:
        text += f", validation {row['val_seconds']:.2f} s"
    return text


class MidEpochSaver:
    """Saves a started epoch every ``checkpoint_minutes`` (rank 0), called after each batch."""

    def __init__(self, state: FoldState):
        self.state = state
        self.last_save = time.monotonic()

    def __call__(self, partial: dict[str, Any]) -> None:
        """Save ``state.pt`` with ``partial`` (the started epoch) when a save is due, or when a
        stop was requested (:mod:`endobench.stopping`): then raise :class:`Interrupted`.

        Raises:
            Interrupted: After saving the batch in hand, on every rank alike.
        """
        minutes = self.state.config.checkpoint_minutes
        due = minutes > 0 and time.monotonic() - self.last_save >= minutes * 60
        stop = stop_requested()
        if self.state.ctx.distributed:  # every rank stops after the same batch
            stop = D.all_sum(self.state.ctx, [float(stop)])[0] > 0
        if self.state.ctx.is_main and (due or stop):
            self.state.save(partial)
            self.saved()
        if stop:
            D.barrier(self.state.ctx)
            raise Interrupted(
                self.state.epoch,
                self.state.recipe.epochs,
                "epoch",
                detail=f" ({self.state.plan.label}: epoch {partial['epoch']} stopped and saved "
                f"after batch {partial['batches_done']})",
            )

    def saved(self) -> None:
        """Note that the state was just saved (the clock restarts)."""
        self.last_save = time.monotonic()


def _optional_source(
    pairs: list[Pair], state: FoldState, display: TrainingDisplay, what: str
) -> Dataset | None:
    """Mask-less validation frames at the training size, or None when there are none."""
    return _source(pairs, state, display, f"decoding {what}", False) if pairs else None


def _source(
    pairs: list[Pair], state: FoldState, display: TrainingDisplay, what: str, originals: bool
) -> Dataset:
    """The pairs at the training size: decoded once and cached, or decoded on every access."""
    size, config = state.recipe.size, state.config
    if not config.cache:
        return ResizedPairs(pairs, size, keep_original_mask=originals)
    with display.task(what, total=len(pairs)) as advance:
        cached = cache_pairs(
            pairs, size, workers=config.workers, keep_original_mask=originals, progress=advance
        )
    device = state.ctx.device
    on_device = device.type == "cuda" if config.device_cache is None else config.device_cache
    return DeviceCachedPairs(cached, device) if on_device else cached
