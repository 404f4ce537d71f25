"""Command-line interface: one typer module per command group, each a thin call into the library.

Command modules import nothing heavy at import time, so ``endobench score`` and the other commands
that run no model start without importing torch.
"""

from __future__ import annotations

import sys

import click
import typer
from typer.core import TyperGroup

from endobench import __version__
from endobench.errors import EndobenchError


class _Group(TyperGroup):
    """Root group that turns :class:`EndobenchError` into a one-line message and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EndobenchError as err:
            typer.echo(f"Error: {err}", err=True)
            ctx.exit(2)

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Keep the order in which the commands are registered (the pipeline order).
        return list(self.commands)


app = typer.Typer(
    cls=_Group,
    name="endobench",
    help="Polyp segmentation benchmarking and EndoCV2021 submissions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"endobench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Polyp segmentation benchmarking and EndoCV2021 submissions."""


def _register() -> None:
    """Attach every command module that exists; each registers its own commands on ``app``."""
    import importlib

    for name in (
        "datasets",
        "score",
        "models",
        "run",
        "compare",
        "package",
        "leaderboard",
        "train",
        "demo",
    ):
        try:
            module = importlib.import_module(f"endobench.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"endobench.cli.{name}":
                continue
            raise
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the command-line interface (the ``endobench`` console script)."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="endobench")
