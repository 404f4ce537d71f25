"""``endobench compare``: tables like the paper's Tables 1-2, and plots (thin; see endobench.compare)."""

from __future__ import annotations

from pathlib import Path

import typer


def compare(
    runs: list[Path] = typer.Argument(
        None, help="Run folders or record .json files, in row order."
    ),
    leaderboard: bool = typer.Option(
        False, "--leaderboard", help="Also include every leaderboard record."
    ),
    leaderboard_dir: Path | None = typer.Option(
        None, "--leaderboard-dir", help="Leaderboard folder."
    ),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Comma-separated: Jac,Dice,F2,PPV,Rec,Acc,Hdf,FPS."
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Run or model name to show changes against."
    ),
    fmt: str = typer.Option("md", "--format", "-f", help="md, csv, latex or html."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the table here instead of printing it."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write bar charts and a qualitative grid (PNG, SVG) here."
    ),
    plot_set: str | None = typer.Option(
        None, "--plot-set", help="Data set of the qualitative grid."
    ),
    plot_images: str | None = typer.Option(
        None, "--plot-images", help="Comma-separated image names for the grid."
    ),
    worst: int = typer.Option(
        4, "--worst", help="Grid: how many worst-scoring images (mean Dice) to show."
    ),
) -> None:
    """Compare runs: best per column in bold, optional baseline deltas, optional plots."""
    from endobench.compare import compare_runs
    from endobench.errors import ConfigError

    runs = list(runs or [])
    text = compare_runs(
        runs,
        leaderboard=leaderboard,
        leaderboard_dir=leaderboard_dir,
        metrics=metrics,
        baseline=baseline,
        fmt=fmt,
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        if out.exists() and not force:
            raise ConfigError(f"{out} exists; pass --force to overwrite it or choose another --out")
        from endobench.io import write_text_atomic

        write_text_atomic(out, text)
        typer.echo(f"wrote {out}")
    if plot is not None:
        from endobench.compare.plots import plot_bars, plot_qualitative
        from endobench.leaderboard.records import load_sources

        written = plot_bars(load_sources(runs), plot, metrics)
        run_dirs = [r for r in runs if r.is_dir()]
        if run_dirs:
            names = [n for n in (plot_images or "").split(",") if n] or None
            written += plot_qualitative(run_dirs, plot, plot_set, names, worst)
        for path in written:
            typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the root app."""
    app.command("compare")(compare)
