"""Named data sets where a folder of frames is taken: ``score --dataset`` and ``package --check
--dataset``; ``package --check`` without test images checks the layout; a zip of the whole run
folder (its submission one folder down) is named as such."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import make_run
from typer.testing import CliRunner

from endobench.cli import app
from endobench.data import sample_root


@pytest.fixture(scope="module")
def kvasir_run(tmp_path_factory) -> Path:
    """A finished run over the bundled sample/kvasir, as set ``sample-kvasir``, and its zip."""
    root = tmp_path_factory.mktemp("named")
    sample = sample_root() / "kvasir"
    run = make_run(root, "r", sample / "images", sample / "masks", set_name="sample-kvasir", grow=2)
    result = CliRunner().invoke(app, ["package", str(run), "--out", str(root / "r.zip")])
    assert result.exit_code == 0, result.output
    return run


def _invoke(*args: object):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_score_dataset_equals_score_of_its_truth_folder(kvasir_run, tmp_path):
    pred = kvasir_run / "EndoCV2021" / "segmentation" / "sample-kvasir_pred"
    named, folder = tmp_path / "named.json", tmp_path / "folder.json"
    result = _invoke("score", "--dataset", "sample/kvasir", "--pred", pred, "--json", named)
    assert result.exit_code == 0, result.output
    truths = sample_root() / "kvasir" / "masks"
    assert _invoke("score", "--gt", truths, "--pred", pred, "--json", folder).exit_code == 0
    assert json.loads(named.read_text()) == json.loads(folder.read_text())
    both = _invoke("score", "--dataset", "sample/kvasir", "--gt", truths, "--pred", pred)
    assert both.exit_code == 2 and "give --gt or --dataset, not both" in both.output


def test_package_check_against_a_named_data_set(kvasir_run):
    zip_path = kvasir_run.parent / "r.zip"
    result = _invoke("package", "--check", zip_path, "--dataset", "sample/kvasir")
    assert result.exit_code == 0, result.output
    assert "valid (sample-kvasir: 10 masks)" in result.output
    other = _invoke("package", "--check", zip_path, "--dataset", "sample/clinicdb")
    assert other.exit_code == 2 and "no test image named" in other.output


def test_package_check_without_images_checks_the_layout(kvasir_run, tmp_path):
    zip_path = kvasir_run.parent / "r.zip"
    result = _invoke("package", "--check", zip_path)
    assert result.exit_code == 0, result.output
    assert "layout and masks checked" in result.output and "valid" in result.output
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("EndoCV2021/segmentation/sample-kvasir_pred/notes.txt", "x")
    refused = _invoke("package", "--check", bad)
    assert refused.exit_code == 2 and "extra file" in refused.output


def test_a_zip_of_the_whole_run_folder_says_the_layout_is_one_folder_down(kvasir_run, tmp_path):
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        for path in sorted(kvasir_run.rglob("*")):
            if path.is_file():
                archive.write(path, Path("r") / path.relative_to(kvasir_run))
    result = _invoke("package", "--check", whole)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "the submission sits one folder down, in r/EndoCV2021/segmentation/" in lines[0]
