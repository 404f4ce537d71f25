"""``endobench run``: a model over data sets into an EndoCV2021 run folder (thin; see endobench.runner)."""

from __future__ import annotations

from pathlib import Path

import typer

from endobench.cli.options import (
    DataRoot,
    Device,
    NegativeFrames,
    PositiveFrames,
    Progress,
    SkipProblems,
)
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
    negatives: NegativeFrames = None,
    positives: PositiveFrames = None,
    data_root: DataRoot = None,
    skip_problems: SkipProblems = False,
    size: int | None = typer.Option(
        None, "--size", help="Input side in pixels (default: the model's)."
    ),
    sizes: str | None = typer.Option(
        None, "--sizes", help="Sweep of input sides, e.g. 384,448,512,608: one run folder each."
    ),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Images per forward pass."),
    device: Device = "auto",
    dtype: str = typer.Option("float32", "--dtype", help="float32, bfloat16 or float16."),
    backend: str = typer.Option(
        "auto",
        "--backend",
        help="auto (the fastest verified: on a CPU, ONNX Runtime when its export gives the eager "
        "masks; onnxruntime for .onnx weights), torch (eager) or onnxruntime.",
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
    progress: Progress = True,
) -> None:
    """Run a model over data sets: EndoCV2021 masks, scores, FPS and run.json in submissions/<run>/."""
    options = dict(locals())  # every option by its name, as RunConfig.from_options takes them
    from endobench.export.fast_backend import select_fast_backend
    from endobench.runner import RunConfig, run_sweep
    from endobench.stopping import stop_on_signals

    options["sizes"] = comma_sides(sizes)
    with stop_on_signals():
        results = run_sweep(RunConfig.from_options(options), select_fast_backend)
    for result in results:
        typer.echo(f"wrote {result.run_dir}")
        if result.record_path is not None:
            typer.echo(f"recorded {result.record_path}")


def register(app: typer.Typer) -> None:
    """Add ``run`` to the root app."""
    app.command("run")(run)
