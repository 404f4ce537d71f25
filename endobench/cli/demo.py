"""``endobench demo``: the main job on the bundled sample with the shipped weights (``make demo``)."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("submissions"), "--out", help="Root folder of run folders."),
    model: str = typer.Option("brp_lite_post", "--model", help="Model with packaged weights."),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads."),
) -> None:
    """Segment the bundled Kvasir-SEG and CVC-ClinicDB sample; print EndoCV2021 scores and FPS.

    The run folder is ``<out>/demo``; the demo's own folder is replaced on every call. Like
    ``run`` without ``--backend``, it takes the fastest backend verified to give eager fp32's masks.
    """
    from endobench.export.fast_backend import select_fast_backend
    from endobench.runner import RunConfig, run_benchmark

    config = RunConfig(
        model=model,
        weights="default",
        datasets=["sample/kvasir", "sample/clinicdb"],
        batch_size=1,
        out=str(out),
        name="demo",
        force=True,
        num_workers=1,
        optimise=True,
        threads=threads,
    )
    result = run_benchmark(config, select_fast_backend)
    typer.echo(f"wrote {result.run_dir}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root app."""
    app.command("demo")(demo)
