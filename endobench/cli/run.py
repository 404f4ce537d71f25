"""``endobench run``: a model over data sets into an EndoCV2021 run folder (thin; see endobench.runner)."""

from __future__ import annotations

from pathlib import Path

import typer

from endobench.cli.values import comma_sides


def run(
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Registered model name (see `endobench models`); not needed with --weights F.onnx.",
    ),
    weights: list[str] = typer.Option(
        [],
        "--weights",
        "-w",
        help="Weights file, or 'default' for the packaged weights; repeat for a fold ensemble "
        "(probability maps averaged).",
    ),
    dataset: list[str] = typer.Option(
        [], "--dataset", "-d", help="Named data set; repeat for several (e.g. polypgen/C1)."
    ),
    images: list[Path] = typer.Option(
        [], "--images", help="Image folder (any known layout); repeat for several."
    ),
    masks: list[Path] = typer.Option(
        [], "--masks", help="Mask folder for each --images, in the same order."
    ),
    negatives: list[Path] = typer.Option(
        [],
        "--negatives",
        help="Folder of polyp-free frames: a set whose truth is all background, with "
        "frame-level detection figures. Repeatable.",
    ),
    positives: list[Path] = typer.Option(
        [],
        "--positives",
        help="Folder of polyp frames without masks: a set scored for frame-level sensitivity "
        "only. Repeatable.",
    ),
    data_root: str | None = typer.Option(
        None, "--data-root", help="Where named data sets are found."
    ),
    skip_problems: bool = typer.Option(
        False,
        "--skip-problems",
        help="Leave out and list pairing problems and unreadable files instead of refusing a set.",
    ),
    size: int | None = typer.Option(
        None, "--size", help="Input side in pixels (default: the model's)."
    ),
    sizes: str | None = typer.Option(
        None, "--sizes", help="Sweep of input sides, e.g. 384,448,512,608: one run folder each."
    ),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Images per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    dtype: str = typer.Option("float32", "--dtype", help="float32, bfloat16 or float16."),
    backend: str = typer.Option(
        "auto", "--backend", help="auto (onnxruntime for .onnx weights), torch or onnxruntime."
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="fp32, bf16 (torch autocast), int8 (an int8 export), fp16 (GPU); default: --dtype's.",
    ),
    out: Path = typer.Option(Path("submissions"), "--out", help="Root folder of run folders."),
    name: str | None = typer.Option(
        None, "--name", help="Run folder name (default: <model>-<size>-<time>)."
    ),
    save_prob: bool = typer.Option(False, "--save-prob", help="Also write 8-bit probability maps."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing run folder."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run folder."),
    record: bool = typer.Option(False, "--record", help="Add the run to the leaderboard."),
    leaderboard: Path | None = typer.Option(
        None, "--leaderboard", help="Leaderboard folder for --record."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of torch, numpy and random."),
    workers: int = typer.Option(
        2, "--workers", "-j", help="DataLoader workers (0: load in the main process)."
    ),
    writers: int | None = typer.Option(
        None,
        "--writers",
        help="Threads writing masks behind inference (default: the thread plan's; 0: in the loop).",
    ),
    random_weights: bool = typer.Option(
        False, "--random-weights", help="No weights: random initialisation (speed only)."
    ),
    optimise: bool = typer.Option(
        False, "--optimise", help="Fold batch norms, channels-last (CPU speed, same function)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="torch CPU threads (part of every FPS figure)."
    ),
    warmup: int = typer.Option(5, "--warmup", help="Untimed batch-1 forward passes before timing."),
    fps_images: int = typer.Option(
        100, "--fps-images", help="With --batch-size > 1: images also timed at batch 1."
    ),
    score: bool = typer.Option(
        True, "--score/--no-score", help="Score the sets that have ground truth."
    ),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Show progress and the summary."
    ),
) -> None:
    """Run a model over data sets: EndoCV2021 masks, scores, FPS and run.json in submissions/<run>/."""
    from endobench.runner import RunConfig, run_sweep

    config = RunConfig(
        model=model,
        weights=(weights[0] if len(weights) == 1 else list(weights)) if weights else None,
        datasets=list(dataset),
        images=[str(p) for p in images],
        masks=[str(p) for p in masks],
        negatives=[str(p) for p in negatives],
        positives=[str(p) for p in positives],
        data_root=data_root,
        skip_problems=skip_problems,
        size=size,
        sizes=comma_sides(sizes),
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        backend=backend,
        precision=precision,
        out=str(out),
        name=name,
        save_prob=save_prob,
        force=force,
        resume=resume,
        record=record,
        leaderboard=str(leaderboard) if leaderboard else None,
        seed=seed,
        num_workers=workers,
        writers=writers,
        random_weights=random_weights,
        optimise=optimise,
        threads=threads,
        warmup=warmup,
        fps_images=fps_images,
        score=score,
        progress=progress,
    )
    results = run_sweep(config)
    for result in results:
        typer.echo(f"wrote {result.run_dir}")
        if result.record_path is not None:
            typer.echo(f"recorded {result.record_path}")


def register(app: typer.Typer) -> None:
    """Add ``run`` to the root app."""
    app.command("run")(run)
