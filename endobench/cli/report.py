"""``endobench report``: one offline HTML file comparing run folders (thin; see endobench.compare.report)."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    runs: list[Path] = typer.Argument(
        ...,
        help="Finished run folders with ground truth, and/or `endobench stream` folders (shown "
        "side by side).",
    ),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out."),
    resamples: int = typer.Option(1000, "--resamples", min=100, help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    rank_metric: str = typer.Option(
        "dice", "--rank-metric", help="Metric of the significance maps and blob plots."
    ),
    worst: int = typer.Option(6, "--worst", min=0, help="Worst images shown per run and set."),
    disagree: int = typer.Option(
        6, "--disagree", min=0, help="Most-disagreeing images shown per set."
    ),
    thumb_height: int = typer.Option(
        96, "--thumb-height", min=16, max=512, help="Thumbnail height in pixels."
    ),
) -> None:
    """Write a self-contained HTML report: CIs, tests, rankings, plots, per-image thumbnails."""
    from endobench.compare.report import build_report, build_stream_report
    from endobench.compare.stats import StatsSettings
    from endobench.compare.streams import split_streams, stream_section

    streams, runs = split_streams(runs)
    if not runs:
        typer.echo(f"wrote {build_stream_report(streams, out, force=force)}")
        return
    path = build_report(
        runs,
        out,
        settings=StatsSettings(n_resamples=resamples, seed=seed),
        rank_metric=rank_metric,
        worst=worst,
        disagree=disagree,
        thumb_height=thumb_height,
        force=force,
        show_progress=True,
        extra_sections=[stream_section(streams)] if streams else (),
    )
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the root app."""
    app.command("report")(report)
