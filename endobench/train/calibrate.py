"""`endobench calibrate`: the seed paper's post-processing for a trained checkpoint, chosen at an
operating point.

- candidates: ``reference_area`` = the smallest polyp of the *training* ground truth (a fraction
  of its image area, so it carries across resolutions) times 1, 2, 4 ... 32; ``confidence`` and
  ``polarise`` on a grid (:mod:`endobench.train.operating_point`);
- validation frames: positive frames (``--val-data``, or the images training held back) and
  negative frames (empty truths, and ``--negatives`` folders minus frames that trained the
  weights). Never a test set: data named ``test`` and PraNet's test ids are refused, and so are
  positive frames that trained the weights;
- choice: the highest mean Dice on positive frames whose false-positive frame rate on the negative
  frames is within ``--max-fp-rate``. The trade-off curve is printed and plotted;
- input side (``--sizes``, optional): the same choice at each candidate side, and the side with the
  best Dice within the budget becomes the checkpoint's ``input_size``.

The parameters go into the checkpoint's metadata (``postprocess``, ``input_size``), with the
validation metrics of a plain ``> 0.5`` threshold ("before") and of the post-processing ("after"):
mean Dice, Jaccard, precision (PPV) and recall over positive frames with the EndoCV2021 toolkit's
formulas (:mod:`endobench.metrics`), on the ``> 127`` masks that training uses, and the
false-positive frame rates; ``calibration.size_trials`` records every side tried.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from endobench.errors import ConfigError, WeightsError
from endobench.stopping import Interrupted, stop_requested
from endobench.train.calibration_result import (
    CalibrationResult,
    SizeTrial,
    size_rank,
)
from endobench.train.display import TrainingDisplay
from endobench.train.operating_point import (
    DEFAULT_MAX_FP_RATE,
    FrameTable,
    Grid,
    plot_trade_off,
    positive_metrics,
    trade_off,
)
from endobench.train.pairs import Pair, resize_image, resolve_pairs


def iter_probabilities(
    model: torch.nn.Module,
    pairs: Sequence[Pair],
    size: int,
    device: torch.device,
    batch_size: int = 8,
    progress: TrainingDisplay | None = None,
    what: str = "predicting validation images",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Run the model on each pair's image (resized as in training) and yield full-size maps.

    Yields:
        ``(probability, truth)``: an H x W float32 map at the image's size and its bool truth
        (all background for a pair without a mask).

    Raises:
        Interrupted: A stop was requested (:mod:`endobench.stopping`), between two batches.
    """
    from endobench.data import read_image, read_mask

    cfg = getattr(model, "endobench_cfg", None) or {}
    mean = torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406)), device=device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", (0.229, 0.224, 0.225)), device=device).view(1, 3, 1, 1)
    model.eval().to(device)
    progress = progress or TrainingDisplay(enabled=False)
    with progress.task(what, total=len(pairs)) as advance:
        for start in range(0, len(pairs), batch_size):
            if stop_requested():  # nothing is written before the end: nothing to resume
                raise Interrupted(start, len(pairs), "frame", resumable=False, detail=f" ({what})")
            chunk = pairs[start : start + batch_size]
            images = [read_image(p.image) for p in chunk]
            batch = np.stack([resize_image(image, size) for image in images])
            x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float().div_(255)
            with torch.no_grad():
                prob = torch.sigmoid(model((x - mean) / std)[-1].float())
            for i, (pair, image) in enumerate(zip(chunk, images, strict=True)):
                full = F.interpolate(
                    prob[i : i + 1], size=image.shape[:2], mode="bilinear", align_corners=False
                )
                truth = (
                    read_mask(pair.mask, truth=True)
                    if pair.mask
                    else np.zeros(image.shape[:2], dtype=bool)
                )
                yield full[0, 0].cpu().numpy(), truth
            advance(len(chunk))


def calibrate_model(
    model: torch.nn.Module,
    size: int | Sequence[int],
    train_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair],
    *,
    negative_pairs: Sequence[Pair] = (),
    max_fp_rate: float = DEFAULT_MAX_FP_RATE,
    device: torch.device | str = "cpu",
    batch_size: int = 8,
    grid: dict[str, Sequence[float]] | None = None,
    progress: bool = False,
    alarm: dict[str, float] | None = None,
) -> CalibrationResult:
    """Choose the post-processing at the operating point for an in-memory model (no files written).

    Args:
        model: Returns a list of logit maps; ``model.endobench_cfg`` gives mean and std.
        size: Input side the model runs at, or several sides to choose from: each is calibrated,
            and the side whose best candidate within the budget has the highest Dice wins (ties:
            lower false-positive frame rate, then the smaller side).
        train_pairs: Their masks give the smallest polyp (the reference areas are its multiples).
        val_pairs: Validation frames; those with an empty truth count as negative frames.
        negative_pairs: More negative validation frames (polyp-free, no masks).
        max_fp_rate: The false-positive frame budget (see :mod:`endobench.train.operating_point`).
        device: Where the model runs.
        batch_size: Images per forward pass.
        grid: Candidate values (default: :class:`~endobench.train.operating_point.Grid`'s).
        progress: Show progress bars.
        alarm: Targets of the stream's temporal filter (``target_sensitivity``, ``within_s``,
            see :mod:`endobench.train.temporal_choice`), chosen when there are negative frames.

    Returns:
        The result (its ``checkpoint`` is an empty path until a file is written; ``params`` is
        empty when no candidate keeps within the budget at any side).

    Raises:
        ConfigError: Training and validation images overlap, no positive validation frame, or
            an input side is not a positive number.
    """
    from endobench.data import read_mask
    from endobench.models.postprocess import reference_area_from_masks

    sizes = [size] if isinstance(size, int) else list(dict.fromkeys(size))
    if not sizes or any(s <= 0 for s in sizes):
        raise ConfigError(f"input sides {sizes}: give one or more positive sides, e.g. 288,352")
    overlap = {p.id for p in train_pairs} & {p.id for p in [*val_pairs, *negative_pairs]}
    if overlap:
        raise ConfigError(
            f"{len(overlap)} validation images are also training images (e.g. {sorted(overlap)[0]}); "
            "give --val-data disjoint from --train-data"
        )
    bars = TrainingDisplay(enabled=progress)
    train_masks = []
    with bars.task("reading training masks", total=len(train_pairs)) as advance:
        for pair in train_pairs:
            if pair.mask is not None:
                train_masks.append(read_mask(pair.mask, truth=True))
            advance(1)
    base_area = reference_area_from_masks(train_masks)
    device = torch.device(device)
    trials, tables = [], {}
    for side in sizes:
        frames = FrameTable(Grid.from_dict(grid))
        for pairs, what in ((val_pairs, "validation frames"), (negative_pairs, "negative frames")):
            at = f" at {side} px" if len(sizes) > 1 else ""
            for prob, truth in iter_probabilities(
                model, list(pairs), side, device, batch_size, bars, f"predicting {what}{at}"
            ):
                frames.add(prob, truth)
        result = trade_off(frames, base_area, max_fp_rate)
        tables[side] = frames, result
        plain = positive_metrics(frames, None)["dice"]
        trials.append(SizeTrial(side, result.chosen, plain, result.plain_fp_rate))
    bars.close()
    best = min(trials, key=size_rank).size
    frames, result = tables[best]
    params = result.chosen.params if result.chosen else {}
    temporal = None
    if params and negative_pairs:
        from endobench.train.temporal_choice import choose_from_frames

        temporal = choose_from_frames(frames, params, negative_pairs, **(alarm or {}))
    return CalibrationResult(
        checkpoint=Path(),
        params=params,
        before=positive_metrics(frames, None),
        after=positive_metrics(frames, params) if params else {},
        n_train_masks=len(train_masks),
        n_val=frames.n_positive,
        trade_off=result,
        n_negatives=frames.n_negative,
        size=best,
        size_trials=trials,
        temporal=temporal,
    )


def calibrate_checkpoint(
    checkpoint: str | Path,
    train_data: Sequence[str],
    val_data: Sequence[str] | None = None,
    *,
    negatives: Sequence[str] | None = None,
    max_fp_rate: float = DEFAULT_MAX_FP_RATE,
    plot: str | Path | None = None,
    data_root: str | None = None,
    skip_problems: bool = False,
    out: str | Path | None = None,
    device: str = "auto",
    batch_size: int = 8,
    grid: dict[str, Sequence[float]] | None = None,
    progress: bool = True,
    store_dtype: str | None = None,
    sizes: Sequence[int] | None = None,
    alarm: dict[str, float] | None = None,
) -> CalibrationResult:
    """Calibrate a checkpoint's post-processing at an operating point and store it in its metadata.

    Args:
        checkpoint: An endobench ``.safetensors`` checkpoint (its metadata names the model).
        train_data: Data whose ground truth gives the smallest polyp (the training data).
        val_data: Validation frames. None: the images the checkpoint's training held back from
            ``train_data`` (their ids are in its metadata); the smallest polyp then comes from the
            other images only. Never a test set.
        negatives: Folders of polyp-free frames for the false-positive frame rate; frames that
            trained the weights (recorded in the checkpoint) are left out.
        max_fp_rate: The false-positive frame budget.
        plot: Where to write the trade-off plot (default ``<out stem>.calibration.png`` beside
            the written checkpoint, replaced with it).
        data_root: Where named data sets live.
        skip_problems: Leave out and list the data's pairing problems and unreadable files.
        out: Write the calibrated checkpoint here; None updates ``checkpoint`` in place (atomically).
        device: ``auto``, ``cpu`` or ``cuda``.
        batch_size: Images per forward pass.
        grid: Candidate values (see :class:`~endobench.train.operating_point.Grid`).
        progress: Show progress bars.
        store_dtype: ``"float16"`` to store the calibrated tensors in half precision (the shipped
            weights), ``"float32"``, or None to keep the checkpoint's precision.
        sizes: Input sides to choose from on the same validation frames (default: only the
            checkpoint's own). The chosen side becomes the checkpoint's ``input_size``, the side
            `endobench run` uses by default. A larger side costs speed roughly with its area.
        alarm: Targets of the temporal filter of `endobench stream`, chosen on the
            ``negatives`` sequences and stored as the checkpoint's ``temporal_filter``.

    Raises:
        WeightsError: The checkpoint cannot be read or does not name its model.
        ConfigError: ``out`` or ``plot`` exists already, the data sets overlap, validation frames
            come from a test set or trained the weights, or no candidate keeps within the budget
            (the plot is written first).
    """
    from endobench.devices import resolve_device
    from endobench.models import create_model, load_checkpoint, save_checkpoint

    checkpoint = Path(checkpoint)
    target, plot = _output_paths(checkpoint, out, plot, store_dtype)
    state_dict, metadata = load_checkpoint(checkpoint)
    name = metadata.get("model")
    if not name:
        raise WeightsError(
            f"{checkpoint}: its metadata names no model; calibrate a checkpoint written by `endobench train`"
        )
    trained_size = int(metadata.get("input_size") or 352)
    on_problem = _ON_PROBLEM[skip_problems]
    (train_pairs, val_pairs, negative_pairs), described = _calibration_pairs(
        checkpoint, metadata, train_data, val_data, negatives or [], data_root, on_problem
    )
    model = create_model(name, weights=str(checkpoint))
    result = calibrate_model(
        model,
        list(sizes) if sizes else trained_size,
        train_pairs,
        val_pairs,
        negative_pairs=negative_pairs,
        max_fp_rate=max_fp_rate,
        device=resolve_device(device),
        batch_size=batch_size,
        grid=grid,
        progress=progress,
        alarm=alarm,
    )
    at = f" at {result.size} px" if len(result.size_trials) > 1 else ""
    plot_trade_off(result.trade_off, plot, title=f"{name}: {checkpoint.name}{at}")
    result.plot = plot
    if not result.params:
        lowest = min(c.fp_rate for c in result.trade_off.candidates)
        raise ConfigError(
            f"no post-processing keeps the false-positive frame rate within --max-fp-rate "
            f"{max_fp_rate:g} (lowest {lowest:.3f}, see {plot}); raise --max-fp-rate or train "
            "with --negatives"
        )
    new_meta = _calibrated_metadata(
        metadata,
        result,
        described=described,
        max_fp_rate=max_fp_rate,
        grid=grid,
    )
    dtype = _STORE_DTYPES[store_dtype] if store_dtype else _stored_dtype(state_dict)
    save_checkpoint(target, state_dict, new_meta, dtype=dtype, overwrite=True)
    result.checkpoint = target
    return result


def _calibration_pairs(
    checkpoint, metadata, train_data, val_data, negatives, data_root, on_problem
):
    """The training, validation and negative pairs of a calibration and how each was described;
    validation frames from a test set or that trained the weights are refused."""
    from endobench.train.provenance import (
        refuse_test_data,
        refuse_trained_or_test_ids,
        untrained_negatives,
    )

    train_pairs, train_described = resolve_pairs(train_data, data_root, on_problem)
    if val_data:
        refuse_test_data(val_data)
        val_pairs, val_described = resolve_pairs(val_data, data_root, on_problem)
    else:
        train_pairs, val_pairs = _held_back_split(checkpoint, metadata, train_pairs)
        val_described = [
            f"{len(val_pairs)} images held back from the training data by `endobench train`"
        ]
    negative_pairs, negatives_described = untrained_negatives(metadata, negatives)
    refuse_trained_or_test_ids(checkpoint, metadata, [*val_pairs, *negative_pairs])
    described = {
        "train_data": train_described,
        "val_data": val_described,
        "negatives": negatives_described,
    }
    return (train_pairs, val_pairs, negative_pairs), described


def _output_paths(
    checkpoint: Path, out: str | Path | None, plot: str | Path | None, store_dtype: str | None
) -> tuple[Path, Path]:
    """The calibrated checkpoint's and the plot's paths, refusing to overwrite either."""
    if store_dtype is not None and store_dtype not in _STORE_DTYPES:
        raise ConfigError(f"--dtype {store_dtype!r}: use one of {', '.join(_STORE_DTYPES)}")
    target = Path(out) if out is not None else checkpoint
    if out is not None and target.exists() and target.resolve() != checkpoint.resolve():
        raise ConfigError(
            f"{target} already exists; choose another --out or omit it to update {checkpoint}"
        )
    if plot is not None and Path(plot).exists():
        raise ConfigError(f"{plot} already exists; choose another --plot")
    plot = Path(plot) if plot is not None else target.with_name(f"{target.stem}.calibration.png")
    return target, plot


def _calibrated_metadata(
    metadata: dict,
    result: CalibrationResult,
    *,
    described: dict[str, list[str]],
    max_fp_rate: float,
    grid: dict[str, Sequence[float]] | None,
) -> dict:
    """The checkpoint metadata with the chosen post-processing and the calibration's record."""
    dropped = ("path", "sha256", "format", "format_version", "dtype")
    new_meta = {k: v for k, v in metadata.items() if k not in dropped}
    new_meta["postprocess"] = result.params
    new_meta["input_size"] = result.size
    if result.temporal is not None:
        new_meta["temporal_filter"] = result.temporal.chosen.params.to_dict()
    new_meta["calibration"] = {
        **described,
        "n_train_masks": result.n_train_masks,
        "n_val": result.n_val,
        "n_negative_frames": result.n_negatives,
        "max_fp_rate": max_fp_rate,
        "grid": Grid.from_dict(grid).to_dict(),
        "input_size": result.size,
        "size_trials": [_trial_record(t) for t in result.size_trials],
        "validation_before": result.before | {"fp_frame_rate": result.trade_off.plain_fp_rate},
        "validation_after": result.after | {"fp_frame_rate": result.trade_off.chosen.fp_rate},
        "sensitivity_after": result.trade_off.chosen.sensitivity,
        "temporal_filter": result.temporal.record() if result.temporal else None,
        "source_sha256": metadata.get("sha256"),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return new_meta


def _trial_record(trial: SizeTrial) -> dict:
    c = trial.chosen
    return {
        "size": trial.size,
        "dice": c.dice if c else None,
        "sensitivity": c.sensitivity if c else None,
        "fp_frame_rate": c.fp_rate if c else None,
        "postprocess": c.params if c else None,
        "plain_dice": trial.plain_dice,
        "plain_fp_frame_rate": trial.plain_fp_rate,
    }


def _held_back_split(
    checkpoint: Path, metadata: dict, pairs: list[Pair]
) -> tuple[list[Pair], list[Pair]]:
    """Split ``pairs`` into (training, validation) by the validation ids stored at training time."""
    ids = (metadata.get("training") or {}).get("validation_ids")
    if not ids:
        raise ConfigError(
            f"{checkpoint}: its metadata lists no held-back validation images; pass --val-data"
        )
    wanted = set(ids)
    val = [p for p in pairs if p.id in wanted]
    if len(val) != len(wanted):
        raise ConfigError(
            f"{checkpoint}: {len(wanted) - len(val)} of its {len(wanted)} validation images are not in "
            "--train-data; give the data it was trained on, or pass --val-data"
        )
    return [p for p in pairs if p.id not in wanted], val


_STORE_DTYPES = {"float16": torch.float16, "float32": torch.float32}
_ON_PROBLEM = {False: "error", True: "skip"}  # --skip-problems -> the data layer's on_problem


def _stored_dtype(state_dict: dict[str, torch.Tensor]) -> torch.dtype | None:
    floats = {v.dtype for v in state_dict.values() if v.is_floating_point()}
    return floats.pop() if len(floats) == 1 else None
