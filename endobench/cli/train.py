"""`endobench train` and `endobench calibrate`: thin wrappers over :mod:`endobench.train`."""

from __future__ import annotations

from pathlib import Path

import typer

from endobench.cli.options import (
    CalibrationNegatives,
    DataRoot,
    Device,
    SkipProblems,
    TrainingNegatives,
    root_text,
)
from endobench.cli.values import comma_names, comma_sides


def train_command(
    model: str = typer.Option(..., "--model", help="Registered model name, e.g. brp_lite."),
    data: list[str] = typer.Option(
        ...,
        "--data",
        help="Training data: names (kvasir:train) or folders; repeat or comma-separate.",
    ),
    val_data: list[str] = typer.Option(
        None,
        "--val-data",
        help="Validation data (names or folders); default: held back from --data.",
    ),
    val_fraction: float = typer.Option(
        None,
        "--val-fraction",
        help="Hold back this share of --data for validation instead of k-fold (brp_lite: 0.1).",
    ),
    data_root: DataRoot = None,
    skip_problems: SkipProblems = False,
    size: int = typer.Option(
        None,
        "--size",
        help="Input side at scale 1 (multiple of 32). Recipe: 352; brp, br, bp: 512.",
    ),
    epochs: int = typer.Option(
        None, "--epochs", help="Epochs (recipe: 20); with --resume, may be raised."
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Images per step over all processes (recipe: 16)."
    ),
    lr: float = typer.Option(None, "--lr", help="Adam learning rate (recipe: 1e-4)."),
    scales: str = typer.Option(None, "--scales", help="Multi-scale factors (recipe: 0.75,1,1.25)."),
    clip: float = typer.Option(
        None, "--clip", help="Gradient value clipping (recipe: 0.5; 0 = off)."
    ),
    folds: int = typer.Option(
        None, "--folds", help="Cross-validation folds (recipe: brp, brp_post, br, bp 5; else none)."
    ),
    fold: int = typer.Option(None, "--fold", help="Train only this fold (0-based)."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialisation, data order and splits."),
    out: Path = typer.Option(
        None, "--out", help="Output folder (default runs/train/<model>-<size>)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run(s) in --out exactly."),
    init: Path = typer.Option(
        None,
        "--init",
        help="Start from these trained weights (a second stage, fine-tuning) instead of ImageNet's.",
    ),
    device: Device = "auto",
    amp: bool = typer.Option(False, "--amp", help="bfloat16 autocast (GPU)."),
    channels_last: bool = typer.Option(
        True,
        "--channels-last/--no-channels-last",
        help="Channels-last memory format (faster on CPU and GPU).",
    ),
    workers: int = typer.Option(2, "--workers", help="Decoding worker processes."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Decode every epoch instead of caching resized pairs in memory."
    ),
    limit: int = typer.Option(
        None,
        "--limit",
        help="Smoke test: the first N training pairs and at most N validation pairs of a split; "
        "a cross-validation recipe then trains fold 0 only unless --folds or --fold is given.",
    ),
    threads: int = typer.Option(
        None, "--threads", help="torch CPU threads (default: torch's choice)."
    ),
    checkpoint_minutes: float = typer.Option(
        10.0,
        "--checkpoint-minutes",
        help="Also save the resumable state inside an epoch this often (0: epoch ends only).",
    ),
    negatives: TrainingNegatives = None,
    negative_fraction: float = typer.Option(
        None,
        "--negative-fraction",
        help="Share of each batch taken by negatives when there are any (recipe: 0.25).",
    ),
    negative_crops: bool = typer.Option(
        None,
        "--negative-crops/--no-negative-crops",
        help="Also train on crops of positive images away from the polyp (default: with --negatives).",
    ),
    frame_share: float = typer.Option(
        None,
        "--frame-share",
        help="With --negatives: share of positives shown framed in a negative frame, whose view "
        "crops also train (recipe: 0, off; e.g. 0.25).",
    ),
    freeze_norm: bool = typer.Option(
        None,
        "--freeze-norm/--no-freeze-norm",
        help="Keep BatchNorm statistics of the starting weights (fine-tuning; recipe: off).",
    ),
    val_negatives: list[str] = typer.Option(
        [], "--val-negatives", help="Polyp-free frames that validate (then all --negatives train)."
    ),
    weak_positives: list[str] = typer.Option(
        [],
        "--weak-positives",
        help="Frames that show a polyp, no mask: trained with a frame-level loss.",
    ),
    val_positive_frames: list[str] = typer.Option(
        [], "--val-positive-frames", help="Polyp frames, no mask, that validate (share found)."
    ),
    weak_fraction: float = typer.Option(
        None, "--weak-fraction", help="Share of each batch of --weak-positives (recipe: 0.125)."
    ),
    frame_loss: float = typer.Option(
        None, "--frame-loss", help="Weight of the frame-level loss (recipe: 1; 0 = off)."
    ),
    augment: bool = typer.Option(
        None, "--augment/--no-augment", help="Flips, rotations, colour on the device (recipe: off)."
    ),
    select: str = typer.Option(
        None, "--select", help="Best epoch by 'dice' (recipe) or 'balanced' (+found -false alarms)."
    ),
    backbone_weights: Path = typer.Option(
        None,
        "--backbone-weights",
        help="ImageNet file of the backbone (never downloaded): for pranet and brp* the official "
        "res2net50_v1b_26w_4s-3cf99910.pth.",
    ),
) -> None:
    """Train a model with its recipe: PraNet's; the seed paper's for brp, brp_post, br and bp;
    the shipped weights' for brp_lite. The plan and an estimated time are printed first."""
    import torch

    from endobench.distributed_env import launch_place
    from endobench.stopping import stop_on_signals
    from endobench.train import TrainConfig, describe, parse_scales, recipe_for, train

    if threads:
        torch.set_num_threads(threads)
    recipe = recipe_for(model).replace(
        size=size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        clip=clip,
        scales=parse_scales(scales) if scales else None,
        negative_fraction=negative_fraction,
        frame_share=frame_share,
        freeze_norm=freeze_norm,
        weak_fraction=weak_fraction,
        frame_loss=frame_loss,
        augment=augment,
        select=select,
    )
    config = TrainConfig(
        model=model,
        data=comma_names(data),
        val_data=comma_names(val_data),
        out=out or Path("runs") / "train" / f"{model}-{recipe.size}",
        data_root=root_text(data_root),
        skip_problems=skip_problems,
        recipe=recipe,
        seed=seed,
        folds=folds,
        fold=fold,
        val_fraction=val_fraction,
        resume=resume,
        device=device,
        amp=amp,
        channels_last=channels_last,
        workers=workers,
        cache=not no_cache,
        limit=limit,
        checkpoint_minutes=checkpoint_minutes,
        init=init,
        negatives=comma_names(negatives),
        negative_crops=negative_crops,
        val_negatives=comma_names(val_negatives),
        weak_positives=comma_names(weak_positives),
        val_positive_frames=comma_names(val_positive_frames),
        model_kwargs={"backbone_weights": str(backbone_weights)} if backbone_weights else {},
    )
    with stop_on_signals():
        result = train(config)
    if launch_place().is_main:  # under torchrun, only rank 0 reports
        typer.echo(describe(result))


def calibrate_command(
    checkpoint: Path = typer.Argument(
        ..., help="An endobench checkpoint (.safetensors) from `endobench train`."
    ),
    train_data: list[str] = typer.Option(
        ...,
        "--train-data",
        help="Training data (names or folders) for the reference area; repeat or comma-separate.",
    ),
    val_data: list[str] = typer.Option(
        None,
        "--val-data",
        help="Validation data for the thresholds; default: the images training held back from --train-data.",
    ),
    negatives: CalibrationNegatives = None,
    max_fp_rate: float = typer.Option(
        0.05,
        "--max-fp-rate",
        help="Largest share of negative frames the post-processing may call positive.",
    ),
    plot: Path = typer.Option(
        None,
        "--plot",
        help="Trade-off plot (PNG); default: <checkpoint stem>.calibration.png beside it.",
    ),
    data_root: DataRoot = None,
    skip_problems: SkipProblems = False,
    out: Path = typer.Option(
        None,
        "--out",
        help="Write the calibrated checkpoint here (default: update CHECKPOINT in place).",
    ),
    device: Device = "auto",
    batch_size: int = typer.Option(8, "--batch-size", help="Images per forward pass."),
    dtype: str = typer.Option(
        None, "--dtype", help="Store the tensors as float16 (shipped weights) or float32."
    ),
    sizes: str = typer.Option(
        None,
        "--sizes",
        help="Input sides to choose from, e.g. 288,352: the best Dice within the budget becomes "
        "the checkpoint's input size (default: its own).",
    ),
    alarm_sensitivity: float = typer.Option(
        0.95,
        "--alarm-sensitivity",
        help="Stream's temporal filter: share of polyp appearances that must raise an alarm.",
    ),
    alarm_within: float = typer.Option(
        1.0, "--alarm-within", help="Stream's temporal filter: seconds a polyp appearance lasts."
    ),
) -> None:
    """Choose the post-processing (reference area, thresholds) with the best Dice within a
    false-positive frame budget, and the stream's temporal filter with the fewest false alarms
    per minute on the --negatives sequences; store both in the checkpoint."""
    options = dict(locals())  # calibrate_checkpoint's arguments, by their names
    from rich.console import Console

    from endobench.stopping import stop_on_signals
    from endobench.train.calibrate import calibrate_checkpoint
    from endobench.train.calibration_result import describe_calibration, size_table
    from endobench.train.operating_point import curve_table

    for key in ("train_data", "val_data", "negatives"):
        options[key] = comma_names(options[key])
    options["data_root"] = root_text(data_root)
    options["store_dtype"] = options.pop("dtype")
    options["sizes"] = comma_sides(sizes, "--sizes", "288,352")
    options["alarm"] = {
        "target_sensitivity": options.pop("alarm_sensitivity"),
        "within_s": options.pop("alarm_within"),
    }
    with stop_on_signals():
        result = calibrate_checkpoint(**options)
    console = Console()
    if (sides := size_table(result)) is not None:
        console.print(sides)
    console.print(curve_table(result.trade_off))
    typer.echo(describe_calibration(result))


def pack_data_command(
    out: Path = typer.Option(..., "--out", help="A new folder for the pack."),
    data: list[str] = typer.Option(
        [],
        "--data",
        help="Data sets with masks (kvasir:train or folders; repeat or comma-separate).",
    ),
    frames: list[Path] = typer.Option(
        [],
        "--frames",
        help="Folders of frames without masks (negatives, polyp frames); repeatable.",
    ),
    size: int = typer.Option(352, "--size", help="The training side."),
    quality: int = typer.Option(90, "--quality", help="JPEG quality of the images."),
    data_root: DataRoot = None,
) -> None:
    """Resize training data once, to train elsewhere (a GPU machine) from small files."""
    from rich.progress import Progress

    from endobench.train.packing import pack_training_data

    with Progress(transient=True) as progress:
        task = progress.add_task("packing", total=None)
        record = pack_training_data(
            out,
            comma_names(data),
            frames,
            side=size,
            quality=quality,
            data_root=data_root,
            advance=lambda n: progress.advance(task, n),
        )
    typer.echo(
        f"{out}: {len(record['files'])} files, {record['bytes'] / 2**20:.1f} MiB at {size} px"
    )


def register(app: typer.Typer) -> None:
    """Add ``train``, ``calibrate`` and ``pack-data`` to the root command group."""
    app.command("train")(train_command)
    app.command("calibrate")(calibrate_command)
    app.command("pack-data")(pack_data_command)
