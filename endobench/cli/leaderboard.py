"""``endobench leaderboard``: render the leaderboard; ``leaderboard add RUN`` records a run (thin)."""

from __future__ import annotations

from pathlib import Path

import typer

leaderboard_app = typer.Typer(
    help="Render the leaderboard (README.md, index.html) from leaderboard/results/; `add` records a run.",
    invoke_without_command=True,
    no_args_is_help=False,
)

_DIR_HELP = (
    "Leaderboard folder (default: the checkout's leaderboard/, else an existing ./leaderboard)."
)


def _folder(directory: Path | None) -> Path:
    """The leaderboard folder to use; outside a checkout, never a new ./leaderboard by surprise."""
    import os

    from endobench.errors import ConfigError
    from endobench.leaderboard.records import default_leaderboard_dir

    if directory is not None or os.environ.get("ENDOBENCH_LEADERBOARD"):
        return directory or default_leaderboard_dir()
    folder = default_leaderboard_dir()
    if not folder.is_dir():
        raise ConfigError(
            f"no leaderboard at {folder} (not inside an endobench checkout); pass --dir FOLDER "
            "to use or start one there"
        )
    return folder


@leaderboard_app.callback()
def render(
    ctx: typer.Context,
    directory: Path | None = typer.Option(None, "--dir", help=_DIR_HELP),
) -> None:
    """Render leaderboard/README.md and leaderboard/index.html from every record."""
    if ctx.invoked_subcommand is not None:
        return
    from endobench.leaderboard.render import render_leaderboard

    for path in render_leaderboard(_folder(directory)):
        typer.echo(f"wrote {path}")


@leaderboard_app.command("add")
def add(
    runs: list[Path] = typer.Argument(..., help="Finished run folders."),
    directory: Path | None = typer.Option(None, "--dir", help=_DIR_HELP),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing record of the same run."
    ),
    render_after: bool = typer.Option(
        True, "--render/--no-render", help="Render the leaderboard afterwards."
    ),
) -> None:
    """Store each run's summary as one JSON record under leaderboard/results/."""
    from endobench.leaderboard.records import add_record
    from endobench.leaderboard.render import render_leaderboard

    folder = _folder(directory)
    for run in runs:
        typer.echo(f"recorded {add_record(run, folder, force=force)}")
    if render_after:
        for path in render_leaderboard(folder):
            typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``leaderboard`` group to the root app."""
    app.add_typer(leaderboard_app, name="leaderboard")
