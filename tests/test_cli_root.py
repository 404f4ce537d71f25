"""The root of the command line: help, version, and the one-line error of every command."""

from __future__ import annotations

import errno

from typer.testing import CliRunner

from endobench import __version__
from endobench.cli import app
from endobench.errors import ConfigError


def test_flags_show_no_value_in_help():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0 and "--version" in result.output
    assert "<bool>" not in result.output
    run_help = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "160"})
    assert "--force" in run_help.output and "<bool>" not in run_help.output
    assert "<int>" in run_help.output or "INTEGER" in run_help.output  # valued options keep theirs


def test_version_is_a_flag():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"endobench {__version__}"


def _models_raising(monkeypatch, error: Exception):
    import endobench.models.summary as summary

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(summary, "summarise_models", fail)
    return CliRunner().invoke(app, ["models", "--no-flops"])


def test_an_os_error_in_any_command_is_one_line(monkeypatch):
    result = _models_raising(
        monkeypatch, PermissionError(errno.EACCES, "Permission denied", "/some/where.json")
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (
        result.stderr.strip()
        == "Error: /some/where.json: permission denied (choose a folder you may write to)"
    )


def test_a_user_error_with_line_breaks_stays_on_one_line(monkeypatch):
    result = _models_raising(monkeypatch, ConfigError("first part\nsecond part"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: first part second part"


def test_usage_errors_are_one_line_with_the_help_to_read():
    for args, words in (
        (["run", "--modle", "x"], "No such option: --modle"),
        (["train", "--model", "x"], "Missing option '--data'"),
        (["run", "--model", "m", "--size", "abc"], "'--size'"),
        (["scroe"], "No such command 'scroe'"),
    ):
        result = CliRunner().invoke(app, args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith("Error: ") and words in lines[0] and "--help`)" in lines[0]


def test_the_root_without_a_command_still_shows_its_help():
    result = CliRunner().invoke(app, [])
    assert "Usage" in result.output and "Error" not in result.output


def test_an_error_re_raised_from_a_loader_worker_shows_only_its_message(monkeypatch):
    from endobench.errors import DataError

    worker = DataError(
        "Caught DataError in DataLoader worker process 0.\n"
        "Original Traceback (most recent call last):\n"
        '  File "loading.py", line 40, in __getitem__\n'
        "    image = read_image(path)\n"
        "endobench.errors.DataError: /data/a b.jpg: the file is truncated; replace it\n"
    )
    result = _models_raising(monkeypatch, worker)
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: /data/a b.jpg: the file is truncated; replace it"


def _commands(group, path=()):
    """Every command of the CLI with its path of names (groups' subcommands included)."""
    import typer

    click_group = typer.main.get_command(app) if group is None else group
    for name, command in click_group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def test_help_at_80_columns_cuts_no_option_name():
    """Every command's --help at COLUMNS=80: each option name whole, nothing cut with an ellipsis."""
    checked = 0
    for path, command in _commands(None):
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert "…" not in result.output, f"{' '.join(path)} --help:\n{result.output}"
        assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
        words = set(result.output.replace("│", " ").split())
        for param in command.params:
            for name in [*param.opts, *param.secondary_opts]:
                if name.startswith("--"):
                    assert name in words, (
                        f"{' '.join(path)} --help shows {name} cut:\n{result.output}"
                    )
                    checked += 1
    assert checked > 100
