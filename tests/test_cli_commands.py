"""Every command module is imported, and a broken one fails loudly instead of vanishing from
``--help``; the shared options are defined once; ``run``'s options are its configuration's fields."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import endobench.cli as cli
from endobench.cli import COMMAND_MODULES, app

CLI = Path(cli.__file__).parent
HELPERS = {"__init__", "options", "values"}  # modules of the CLI that hold no command


def test_every_command_module_is_listed_and_imports():
    on_disk = {path.stem for path in CLI.glob("*.py")} - HELPERS
    assert on_disk == set(COMMAND_MODULES)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"endobench.cli.{name}")
        assert callable(module.register), name


def test_each_command_shows_in_help():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("datasets", "score", "models", "run", "export", "package", "train", "demo"):
        assert command in result.output


def test_a_broken_command_module_fails_the_command_line(tmp_path):
    """A command module that cannot be found stops ``endobench`` with that error (it used to be
    skipped, and the command vanished from ``--help``)."""
    code = "import sys\nsys.modules['endobench.cli.report'] = None\nimport endobench.cli\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr and "endobench.cli.report" in result.stderr


@pytest.mark.parametrize("option", ["--skip-problems", "--device", "--data-root", "--negatives"])
def test_a_shared_option_is_declared_once(option):
    declared = [
        path.name
        for path in CLI.glob("*.py")
        if f'"{option}"' in path.read_text() or f'"{option}/' in path.read_text()
    ]
    assert declared == ["options.py"]


def test_runs_options_are_its_configurations_fields():
    from endobench.cli.run import run
    from endobench.runner import RunConfig

    defaults = {}
    for name, parameter in inspect.signature(run).parameters.items():
        default = parameter.default
        defaults[name] = getattr(default, "default", default)
    defaults.update(model="brp_lite", dataset=["sample/kvasir"], weights=["a.pt", "b.pt"])
    config = RunConfig.from_options(defaults)
    assert config.datasets == ["sample/kvasir"] and config.weights == ["a.pt", "b.pt"]
    assert config.num_workers == 2 and config.out == "submissions" and config.device == "auto"
    assert RunConfig.from_options({**defaults, "weights": ["one.pt"]}).weights == "one.pt"
    assert RunConfig.from_options({**defaults, "weights": []}).weights is None
    with pytest.raises(TypeError):
        RunConfig.from_options({**defaults, "unknown_option": 1})
