"""`endobench datasets`: list the named data sets found under a data root, with counts."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` command to ``app``."""
    app.command("datasets")(datasets)


def datasets(
    data_root: Path = typer.Option(
        None,
        "--data-root",
        help="Folder holding the data sets (default: $ENDOBENCH_DATA).",
        file_okay=False,
    ),
) -> None:
    """List the data sets found under the data root, and the bundled sample, with counts."""
    import os

    from rich.console import Console
    from rich.table import Table

    from endobench.data import ENV_VAR, find_datasets, sample_dataset
    from endobench.data.sample import SAMPLE_SETS

    console = Console()
    table = Table(title="endobench data sets", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("samples", justify="right")
    table.add_column("layout")
    table.add_column("folder", overflow="fold")
    root_given = data_root is not None or bool(os.environ.get(ENV_VAR))
    if root_given:
        for entry in find_datasets(data_root):
            table.add_row(entry.name, str(entry.count), entry.layout, str(entry.path))
    for short in SAMPLE_SETS:
        sample = sample_dataset(short)
        table.add_row(sample.name, str(len(sample)), sample.layout, str(sample.root))
    console.print(table)
    if not root_given:
        console.print(
            f"No data root: pass --data-root DIR or set {ENV_VAR} to list your data sets."
        )
