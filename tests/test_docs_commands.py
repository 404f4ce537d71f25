"""Documented commands cannot rot: every ``endobench ...`` line in a code block of README.md and
docs/*.md parses with the real command-line parser (click's, through typer), without running it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from endobench.cli import app

try:  # typer vendors its own click from 0.2x on; its parser is the one that runs
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer runs the click package
    from click import UsageError

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PROGRAM = re.compile(r"^(?:\$\s+)?(?:python -m )?endobench(?:\s|$)")


def documented_commands(path: Path) -> list[tuple[int, str]]:
    """Return ``(line number, command)`` of every endobench command in the file's code blocks.

    A command continued with a trailing backslash is joined with its next lines; a ``# comment``
    after it is dropped (shlex does that).
    """
    commands: list[tuple[int, str]] = []
    in_block, pending, start = False, "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_block, pending = not in_block, ""
            continue
        if not in_block:
            continue
        text = line.strip()
        if not pending and not PROGRAM.match(text):
            continue
        start = start if pending else number
        pending = f"{pending} {text}".strip()
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        commands.append((start, pending))
        pending = ""
    return commands


def parse(command: str) -> None:
    """Parse one command line down to its last subcommand; nothing runs (only option parsing).

    Raises:
        UsageError: The line does not parse (unknown option, extra argument, missing value).
    """
    words = shlex.split(command, comments=True)
    words = words[words.index("endobench") + 1 :]
    group = typer.main.get_command(app)
    ctx = group.make_context("endobench", words, resilient_parsing=False)
    command_obj = group
    while hasattr(command_obj, "resolve_command"):  # a group: parse its subcommand too
        rest = [*_protected_args(ctx), *ctx.args]
        if not rest:
            return
        name, command_obj, rest = command_obj.resolve_command(ctx, rest)
        ctx = command_obj.make_context(name, rest, parent=ctx, resilient_parsing=False)


def _protected_args(ctx: typer.Context) -> list[str]:
    """The subcommand words a group keeps apart (``_protected_args`` from click 8.2 on)."""
    for name in ("_protected_args", "protected_args"):
        value = ctx.__dict__.get(name)
        if value:
            return list(value)
    return []


CASES = [(path, number, command) for path in DOCS for number, command in documented_commands(path)]


def test_the_docs_hold_commands():
    files = {path.name for path, _, _ in CASES}
    assert {"README.md", "pipeline.md", "training.md"} <= files
    assert len(CASES) >= 15


@pytest.mark.parametrize(
    ("path", "number", "command"),
    CASES,
    ids=[f"{path.name}:{number}" for path, number, _ in CASES],
)
def test_documented_command_parses(path, number, command):
    try:
        parse(command)
    except typer.Exit:
        pass  # --help or --version: parsed, then exits
    except UsageError as err:
        pytest.fail(
            f"{path.relative_to(REPO_ROOT)}:{number}: `{command}` does not parse: "
            f"{err.format_message()}",
            pytrace=False,
        )


@pytest.mark.parametrize(
    "command",
    [
        "endobench train --model brp_lite --data kvasir:train clinicdb:train",
        "endobench run --modle x",
        "endobench scroe --gt a --pred b",
        "endobench package RUN --out",
    ],
)
def test_a_wrong_command_is_caught(command):
    with pytest.raises(UsageError):
        parse(command)
