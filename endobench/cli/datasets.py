"""`endobench datasets`: list the named data sets found under a data root, with counts."""

from __future__ import annotations

import typer

from endobench.cli.options import DataRoot, SkipCountedProblems


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` command to ``app``."""
    app.command("datasets")(datasets)


def datasets(
    data_root: DataRoot = None,
    skip_problems: SkipCountedProblems = False,
) -> None:
    """List the data sets found under the data root, and the bundled sample, with counts.

    A count is what `run`, `train` and `calibrate` accept; a set with problems is refused
    unless they get --skip-problems, which leaves the listed files out.
    """
    import os

    from rich.console import Console
    from rich.table import Table

    from endobench.data import ENV_VAR, find_datasets, sample_dataset
    from endobench.data.sample import SAMPLE_SETS

    console = Console()
    table = Table(title="endobench data sets", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("samples", justify="right")
    table.add_column("problems", justify="right")
    table.add_column("layout")
    table.add_column("folder", overflow="fold")
    root_given = data_root is not None or bool(os.environ.get(ENV_VAR))
    found = find_datasets(data_root, check_files=skip_problems) if root_given else []
    for entry in found:
        problems = str(len(entry.problems))
        table.add_row(entry.name, str(entry.count), problems, entry.layout, str(entry.path))
    for short in SAMPLE_SETS:
        sample = sample_dataset(short)
        table.add_row(sample.name, str(len(sample)), "0", sample.layout, str(sample.root))
    console.print(table)
    _print_problems(console, found, skip_problems)
    if not root_given:
        console.print(
            f"No data root: pass --data-root DIR or set {ENV_VAR} to list your data sets."
        )


def _print_problems(console, found, skip_problems: bool) -> None:
    """Name the problems of each data set once (its subsets and splits share them)."""
    from endobench.data.pairing import bounded_problems

    shown: set[tuple[str, ...]] = set()
    for entry in found:
        if not entry.problems or entry.problems in shown:
            continue
        shown.add(entry.problems)
        count = len(entry.problems)
        action = (
            "left out"
            if skip_problems
            else "refused by run/train/calibrate without --skip-problems"
        )
        console.print(
            f"[yellow]{entry.name}[/yellow]: {count} problem(s), {action}:",
            highlight=False,
            soft_wrap=True,
        )
        for line in bounded_problems(entry.problems):
            console.print(f"  - {line}", highlight=False, soft_wrap=True, markup=False)
