"""``endobench models``: the registered models with their size, cost and local weights."""

from __future__ import annotations

from pathlib import Path

import typer


def models(
    no_flops: bool = typer.Option(
        False, "--no-flops", help="List names only, without counting parameters and GFLOPs."
    ),
) -> None:
    """List the registered models: parameters, GFLOPs at the input size, input size, weights.

    The input size is the one the local weights were trained at (every run with them uses it),
    marked ``*``; without local weights, the model's default.
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from endobench.models import list_models
    from endobench.models.summary import summarise_models

    names = list_models()
    rows = []
    with Progress(transient=True) as progress:
        task = progress.add_task("counting parameters and FLOPs", total=len(names))
        for name in names:
            rows.extend(summarise_models([name], with_flops=not no_flops))
            progress.advance(task)

    console = Console()
    # Descriptions only where they fit; the numbers matter more on a narrow terminal.
    with_about = console.width >= 110
    table = Table(title="endobench models")
    table.add_column("name", no_wrap=True, min_width=13)
    for column in ("params (M)", "GFLOPs", "input"):
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    table.add_column("post", no_wrap=True, min_width=4)
    table.add_column("local weights", overflow="fold", min_width=8)
    if with_about:
        table.add_column("about", overflow="fold")
    for row in rows:
        cells = [
            row["name"],
            "-" if row["params_m"] is None else f"{row['params_m']:.2f}",
            "-" if row["gflops"] is None else f"{row['gflops']:.2f}",
            f"{row['input_size']}{'*' if row['size_from'] == 'weights' else ''}",
            "yes" if row["postprocess"] else "no",
            row["weights"] or "no",
        ]
        if with_about:
            cells.append(row["description"])
        table.add_row(*cells)
    console.print(table)
    if any(row["size_from"] == "weights" for row in rows):
        console.print("* the input size of the local weights; GFLOPs at that size")


def model_card(
    weights: Path = typer.Argument(..., help="An endobench checkpoint (.safetensors)."),
    run: list[Path] = typer.Option(
        [], "--run", help="A finished `endobench run` folder made with these weights; repeat."
    ),
    json_out: Path = typer.Option(..., "--json", help="Write the card's JSON here."),
    markdown_out: Path = typer.Option(None, "--md", help="Also write the markdown page here."),
    notes: Path = typer.Option(
        None, "--notes", help="Markdown appended to the page (terms, limitations)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace existing outputs."),
) -> None:
    """Write a model card (JSON, markdown) from a checkpoint's metadata and the runs that used it."""
    from endobench.models.card import write_card

    card = write_card(weights, run, json_out, markdown_out, notes=notes, force=force)
    written = f"{json_out} and {markdown_out}" if markdown_out is not None else f"{json_out}"
    typer.echo(
        f"wrote {written}: card of {card['file']} ({card['sha256'][:12]}), "
        f"{len(card['evaluations'])} evaluation(s)"
    )
    for evaluation in card["evaluations"]:
        if evaluation.get("fps_unstable"):
            typer.echo(
                f"Warning: run {evaluation['run']} has an unstable timing "
                f"({evaluation['fps_unstable']}); its FPS is flagged in the card",
                err=True,
            )


def register(app: typer.Typer) -> None:
    """Add the ``models`` and ``model-card`` commands to the root application."""
    app.command("models")(models)
    app.command("model-card")(model_card)
