"""``endobench train --backbone-weights FILE``: the paper's Res2Net models train from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from train_helpers import make_pair_folder
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

from official_layout import RES2NET_SHAPES, official_shapes, seeded_state_dict  # noqa: E402

from endobench.cli import app  # noqa: E402
from endobench.models import pranet  # noqa: E402

IMAGENET_FILE = "res2net50_v1b_26w_4s-3cf99910.pth"


@pytest.fixture(scope="module")
def imagenet_file(tmp_path_factory) -> Path:
    """A seeded file with the official Res2Net-50 v1b 26w4s ImageNet keys and shapes."""
    path = tmp_path_factory.mktemp("imagenet") / IMAGENET_FILE
    torch.save(seeded_state_dict(official_shapes(RES2NET_SHAPES), dtype=torch.float32), path)
    return path


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    return make_pair_folder(tmp_path_factory.mktemp("pairs") / "discs", n=6, side=40)


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--model",
        "brp",
        "--data",
        str(data),
        "--val-fraction",
        "0.34",
        "--size",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--scales",
        "1",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_brp_trains_from_the_imagenet_file(imagenet_file, pairs, tmp_path, monkeypatch):
    loaded = []
    original = pranet.load_backbone_weights

    def spy(backbone, path, drop_prefixes=()):
        loaded.append(Path(path))
        original(backbone, path, drop_prefixes)  # the strict load runs as it would

    monkeypatch.setattr(pranet, "load_backbone_weights", spy)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, _args(pairs, out, "--backbone-weights", str(imagenet_file)))
    assert result.exit_code == 0, result.output
    assert loaded == [imagenet_file]
    assert list(out.rglob("*.safetensors")), sorted(p.name for p in out.rglob("*"))


def test_a_missing_file_is_one_line_naming_it(pairs, tmp_path):
    missing = tmp_path / IMAGENET_FILE
    result = CliRunner().invoke(
        app, _args(pairs, tmp_path / "run", "--backbone-weights", str(missing))
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: --backbone-weights {missing}")
    assert IMAGENET_FILE in lines[0] and "nothing is downloaded" in lines[0]
    assert not (tmp_path / "run").exists()


def test_without_the_file_brp_says_which_option_takes_it(pairs, tmp_path):
    result = CliRunner().invoke(app, _args(pairs, tmp_path / "run"))
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]  # after the announced split
    assert (
        line.startswith("Error: ") and IMAGENET_FILE in line and "--backbone-weights FILE" in line
    )


def test_backbone_weights_and_init_contradict(imagenet_file, pairs, tmp_path):
    extra = ("--backbone-weights", str(imagenet_file), "--init", str(imagenet_file))
    result = CliRunner().invoke(app, _args(pairs, tmp_path / "run", *extra))
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error: --backbone-weights and --init contradict")
