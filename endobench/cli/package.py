"""``endobench package``: the validated EndoCV2021 zip of a run (thin; see endobench.writers.package)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from endobench.cli.options import DataRoot, SkipUnreadableImages


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


def _dataset_expected(
    dataset: str | None, data_root: Path | None, images: Path | None, skip_problems: bool
):
    """The names and sizes a zip must answer for ``--dataset`` (None without it)."""
    from endobench.errors import ConfigError

    if dataset is None:
        if data_root is not None:
            raise ConfigError("--data-root goes with --dataset")
        return None
    if images is not None:
        raise ConfigError("give --images or --dataset, not both")
    from endobench.data import load_dataset
    from endobench.runner.sources import set_name_for
    from endobench.writers.zip_check import expected_from_dataset

    on_problem = "skip" if skip_problems else "error"
    opened = load_dataset(dataset, str(data_root) if data_root else None, on_problem=on_problem)
    return expected_from_dataset(opened, set_name_for(dataset))


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
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="With --check: the named data set the zip answers (kvasir:test; see datasets).",
        ),
    ] = None,
    data_root: DataRoot = None,
    skip_problems: SkipUnreadableImages = False,
) -> None:
    """Write the EndoCV2021 zip of a run after validating it, or validate a zip with --check."""
    from endobench.errors import ConfigError, EndobenchError
    from endobench.wording import counted
    from endobench.writers.package import PackageError, package_run
    from endobench.writers.zip_check import check_zip

    if check is not None:
        expected = _dataset_expected(dataset, data_root, images, skip_problems)
        report = check_zip(check, images, skip_problems=skip_problems, expected=expected)
        if images is None and expected is None:
            _warn(
                [
                    f"{check}: layout and masks checked; pass --images or --dataset to check "
                    "that every test image has its mask"
                ]
            )
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
        raise ConfigError("pass a run folder and --out FILE.zip (or --check FILE.zip)")
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
