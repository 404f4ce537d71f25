"""``endobench compare``: tables like the paper's Tables 1-2, statistics, plots (thin; see endobench.compare)."""

from __future__ import annotations

from pathlib import Path

import typer


def _write_or_echo(text: str, out: Path | None, force: bool) -> None:
    from endobench.errors import ConfigError

    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it or choose another --out")
    from endobench.io import write_text_atomic

    write_text_atomic(out, text)
    typer.echo(f"wrote {out}")


def _stats_text(runs: list[Path], metrics, fmt, resamples, seed, confidence, rank_metric) -> str:
    from rich.console import Console
    from rich.progress import Progress

    from endobench.compare.perimage import load_runs, sets_of
    from endobench.compare.stats import StatsSettings, compute_stats, parse_stat_metrics
    from endobench.compare.stats_tables import render_stats
    from endobench.errors import ConfigError

    not_runs = [str(r) for r in runs if not r.is_dir()]
    if not_runs:
        raise ConfigError(
            f"--stats needs run folders (per-image scores), not {', '.join(not_runs)}"
        )
    keys = parse_stat_metrics(metrics)
    steps = len(sets_of(load_runs(runs))) * len(keys)
    settings = StatsSettings(n_resamples=resamples, seed=seed, confidence=confidence)
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("statistics", total=steps)
        result = compute_stats(runs, keys, settings, progress=lambda n: progress.advance(task, n))
    return render_stats(result, fmt, rank_metric)


def compare(
    runs: list[Path] = typer.Argument(
        None,
        help="Run folders or record .json files, in row order; `endobench stream` folders get "
        "their own table (false alarms/min, flicker, latency, fps).",
    ),
    leaderboard: bool = typer.Option(
        False, "--leaderboard", help="Also include every leaderboard record."
    ),
    leaderboard_dir: Path | None = typer.Option(
        None, "--leaderboard-dir", help="Leaderboard folder."
    ),
    metrics: str | None = typer.Option(
        None,
        "--metrics",
        help="Comma-separated titles (Jac,Dice,F2,PPV,Rec,Acc,Hdf,Dice@0.5,IoU@0.5,Sα,Eφmax,Fβw,"
        "MAE,HD95,meanDic,meanIoU,wFm,Sm,meanEm,maxEm,FPS) or groups (endocv, standard, pranet, "
        "detection, all).",
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Run or model name to show changes against."
    ),
    fmt: str = typer.Option(
        "md", "--format", "-f", help="md, csv, latex or html; json with --stats."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the table here instead of printing it."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out."),
    stats: bool = typer.Option(
        False,
        "--stats",
        help="Bootstrap CIs, paired Wilcoxon tests (Holm), rank stability, consensus ranking.",
    ),
    resamples: int = typer.Option(1000, "--resamples", min=100, help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    confidence: float = typer.Option(
        0.95, "--confidence", min=0.5, max=0.999, help="Confidence level of the CIs."
    ),
    rank_metric: str = typer.Option(
        "dice", "--rank-metric", help="--stats: metric of the ranking tables."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write dot-and-box plots and a qualitative grid (PNG, SVG) here."
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
    """Compare runs: best per column in bold, optional baseline deltas, statistics, plots."""
    from endobench.compare import compare_runs
    from endobench.compare.streams import split_streams, stream_table
    from endobench.errors import ConfigError

    streams, runs = split_streams(list(runs or []))
    if streams and not (runs or leaderboard):
        if stats or plot is not None:
            raise ConfigError("--stats and --plot compare run folders; stream folders get a table")
        _write_or_echo(stream_table(streams, fmt), out, force)
        return
    if stats:
        if leaderboard or baseline:
            raise ConfigError("--stats compares run folders only; drop --leaderboard/--baseline")
        text = _stats_text(runs, metrics, fmt, resamples, seed, confidence, rank_metric)
    elif fmt == "json":
        raise ConfigError("--format json needs --stats; without it choose md, csv, latex or html")
    else:
        text = compare_runs(
            runs,
            leaderboard=leaderboard,
            leaderboard_dir=leaderboard_dir,
            metrics=metrics,
            baseline=baseline,
            fmt=fmt,
        )
    if streams:
        text += "\n" + stream_table(streams, "md" if fmt == "json" else fmt)
    _write_or_echo(text, out, force)
    if plot is not None:
        from endobench.compare.plots import plot_qualitative, plot_scores

        written = plot_scores(runs, plot, metrics)
        run_dirs = [r for r in runs if r.is_dir()]
        if run_dirs:
            names = [n for n in (plot_images or "").split(",") if n] or None
            written += plot_qualitative(run_dirs, plot, plot_set, names, worst)
        for path in written:
            typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the root app."""
    app.command("compare")(compare)
