"""Command-line interface: one typer module per command group, each a thin call into the library.

Command modules import nothing heavy at import time, so ``endobench score`` and the other commands
that run no model start without importing torch.
"""

from __future__ import annotations

import re
import sys

import typer
from typer.core import TyperGroup

from endobench import __version__
from endobench.errors import EndobenchError, os_error_message
from endobench.stopping import EXIT_INTERRUPTED, Interrupted, resume_command


class _Group(TyperGroup):
    """Root group: a user's error, an operating-system error or a misspelt option is one line.

    The one place where :class:`EndobenchError`, :class:`OSError` (a full disk, a folder without
    permission, a path too long: outside :func:`endobench.io.atomic_path`, which names the file it
    was writing) and a command's usage errors (unknown option, missing value, wrong type) become
    ``Error: ...`` without a traceback, with exit status 2.
    """

    def invoke(self, ctx: typer.Context):
        usage_error, shows_help = _usage_errors()
        protected = getattr(ctx, "_protected_args", None)  # the command's name, by click's version
        if protected is None:
            protected = getattr(ctx, "protected_args", [])
        args = [*protected, *ctx.args]
        try:
            return super().invoke(ctx)
        except Interrupted as stopped:
            _stopped(stopped, args)
        except EndobenchError as err:
            _fail(ctx, str(err))
        except OSError as err:
            _fail(ctx, os_error_message(err, action=None))
        except usage_error as err:
            if isinstance(err, shows_help):
                raise  # a command called without arguments shows its help
            where = getattr(err, "ctx", None) or ctx
            _fail(ctx, f"{err.format_message()} (see `{where.command_path} --help`)")

    def list_commands(self, ctx: typer.Context) -> list[str]:
        # Keep the order in which the commands are registered (the pipeline order).
        return list(self.commands)


def _flags_take_no_value_in_help() -> None:
    """Show no ``<bool>`` beside flags in ``--help``: it reads as if ``--version`` took a value.

    Recent typer versions print every option's type in the rich help, flags included; a flag's
    type column is left empty instead.
    """
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_endobench_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        if self.is_flag and not self.count and self.metavar is None:
            return None
        return shown(self, ctx)

    display_type_rich._endobench_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value_in_help()


def _help_never_cuts_names() -> None:
    """Keep every option name whole in ``--help`` at any width (80 columns included).

    typer's rich help lays options out in a table whose columns rich shrinks evenly when the
    terminal is narrow, cutting long names (``--checkpoint-min…``). Its name and type columns are
    made unbreakable, so the help text, the last column, gives way; a word too long for it
    (``--negatives/--positives``) folds onto the next line instead of being cut.
    """
    from rich.table import Table
    from rich.text import Text
    from typer import rich_utils

    if getattr(rich_utils.Table, "_endobench_whole_names", False):
        return

    class WholeNamesTable(Table):
        _endobench_whole_names = True

        def __rich_console__(self, console, options):
            self.columns = [c for c in self.columns if any(str(cell) for cell in c._cells)]
            for index, column in enumerate(self.columns):
                column._index = index  # empty columns (no short names) would take padding
            for column in self.columns[:-1]:
                column.no_wrap = True
            for column in self.columns:
                column.overflow = "fold"
            yield from super().__rich_console__(console, options)

    rich_utils.Table = WholeNamesTable
    parameter_help = rich_utils._get_parameter_help

    def folding_parameter_help(**kwargs):
        shown = parameter_help(**kwargs)
        for item in getattr(shown, "renderables", ()):
            if isinstance(item, Text):
                item.overflow = "fold"
        return shown

    rich_utils._get_parameter_help = folding_parameter_help


_help_never_cuts_names()


def one_line_error(message: str) -> str:
    """The one line to print for an error message.

    A torch DataLoader worker re-raises an error with the worker's traceback in its message
    (``Caught DataError in DataLoader worker process 0. Original Traceback ...``); only the
    original message, its last line, is the user's.
    """
    if "Original Traceback" in message and message.strip():
        last = message.strip().splitlines()[-1]
        message = re.sub(r"^[\w.]*(Error|Exception): ", "", last)
    return " ".join(message.splitlines()) or "failed"


def _usage_errors() -> tuple[type[Exception], type[Exception] | tuple[()]]:
    """The parser's usage-error class, and its subclass that means "show the help"."""
    try:  # typer vendors its own click from 0.2x on
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # pragma: no cover - older typer runs the click package
        import click.exceptions as click_errors

        return click_errors.UsageError, getattr(click_errors, "NoArgsIsHelpError", ())
    return UsageError, NoArgsIsHelpError


def _stopped(stopped: Interrupted, args: list[str]) -> None:
    """Say how far a command got before it stopped on request, and how to go on; exit 130."""
    done = f"{stopped.done} of {stopped.total} {stopped.noun}s done{stopped.detail}"
    if stopped.resumable:
        typer.echo(f"Interrupted: {done}; resume with: {resume_command(args)}", err=True)
    else:
        typer.echo(f"Interrupted: {done}; nothing was written: run the command again", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


def _fail(ctx: typer.Context, message: str) -> None:
    """Print ``Error: message`` on one line (stderr) and exit with status 2."""
    typer.echo(f"Error: {one_line_error(message)}", err=True)
    ctx.exit(2)


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


#: The command modules, in the order of ``--help`` (the pipeline's); each defines ``register``.
COMMAND_MODULES = (
    "datasets",
    "score",
    "models",
    "run",
    "stream",
    "export",
    "compare",
    "report",
    "package",
    "leaderboard",
    "train",
    "demo",
)


def _register() -> None:
    """Attach every command module; a module that cannot be imported fails here, loudly (a
    broken command must not vanish from ``--help``)."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"endobench.cli.{name}").register(app)


_register()


def _one_line_warnings(default):
    """A ``warnings.showwarning`` that prints endobench's own warnings (skipped problems...) as
    one ``Warning: ...`` line, without the source line, and others as ``default`` does."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[1]

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if package in Path(filename).resolve().parents:
            print(f"Warning: {message}", file=sys.stderr if file is None else file)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> None:
    """Run the command-line interface (the ``endobench`` console script)."""
    import warnings

    warnings.showwarning = _one_line_warnings(warnings.showwarning)
    app(args=argv if argv is not None else sys.argv[1:], prog_name="endobench")
