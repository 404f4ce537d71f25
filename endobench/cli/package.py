"""``endobench package``: the validated EndoCV2021 zip of a run (thin; see endobench.writers.package)."""

from __future__ import annotations

from pathlib import Path

import typer

from endobench.cli.options import SkipUnreadableImages


def _print_problems(problems: list[str]) -> None:
    """Print the first problems, one a line, then how many more (as ``score`` does)."""
    from endobench.data.pairing import bounded_problems

    for line in bounded_problems(problems):
        typer.echo(f"  - {line}", err=True)


def _warn(lines: list[str]) -> None:
    """Print each warning as one ``Warning:`` line."""
    for line in lines:
        typer.echo(f"Warning: {line}", err=True)


def _zip_timing_warnings(zip_path: Path, times: dict[str, list[float]]) -> list[str]:
    """Judge each set's ``timeElaspsed`` figures by the run's stability rule (spread only: a zip
    records no load) and name the sets whose timing is unstable."""
    from endobench.runner.conditions import stability
    from endobench.runner.timing import latency_stats

    warnings = []
    for set_name, millis in sorted(times.items()):
        if not millis:
            continue
        verdict = stability(latency_stats(millis), {})
        if verdict["unstable"]:
            warnings.append(
                f"{zip_path}: {set_name}'s timeElaspsed figures look unstable "
                f"({'; '.join(verdict['reasons'])}); time the run again on an idle machine"
            )
    return warnings


def package(
    run: Path | None = typer.Argument(None, help="Run folder written by `endobench run`."),
    out: Path | None = typer.Option(None, "--out", "-o", help="The zip to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing zip."),
    check: Path | None = typer.Option(
        None, "--check", help="Validate this zip instead of writing one."
    ),
    images: Path | None = typer.Option(
        None,
        "--images",
        help="With --check: the test images (one subfolder per set, or one set's folder).",
    ),
    skip_problems: SkipUnreadableImages = False,
) -> None:
    """Write the EndoCV2021 zip of a run after validating it, or validate a zip with --check."""
    from endobench.errors import ConfigError, EndobenchError
    from endobench.wording import counted
    from endobench.writers.package import PackageError, check_zip, package_run

    if check is not None:
        if images is None:
            raise ConfigError(
                "--check needs --images: the folder of the test images the zip answers"
            )
        report = check_zip(check, images, skip_problems=skip_problems)
        report.warnings += _zip_timing_warnings(check, report.times)
        _warn(report.warnings)
        if report.skipped:
            typer.echo(f"skipped {len(report.skipped)} unreadable test image(s):", err=True)
            _print_problems(report.skipped)
        if not report.ok:
            _print_problems(report.problems)
            raise EndobenchError(
                f"{check}: {counted(len(report.problems), 'problem')} (the first listed above); "
                "fix them and zip again"
            )
        typer.echo(
            f"{check}: valid ({', '.join(f'{s}: {n} masks' for s, n in report.sets.items())})"
        )
        return
    if skip_problems:
        raise ConfigError("--skip-problems goes with --check; a run's own zip skips nothing")
    if run is None or out is None:
        raise ConfigError("pass a run folder and --out FILE.zip (or --check FILE.zip --images DIR)")
    try:
        report = package_run(run, out, force=force)
    except PackageError as err:
        _print_problems(err.problems)
        raise
    _warn(report.warnings)
    typer.echo(f"wrote {out} ({', '.join(f'{s}: {n} masks' for s, n in report.sets.items())})")


def register(app: typer.Typer) -> None:
    """Add ``package`` to the root app."""
    app.command("package")(package)
