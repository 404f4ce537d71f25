"""Photographs given as truths: refused in ``run``, ``score``, ``train`` and ``calibrate`` with a
one-line error naming the file and what it looks like; ``--skip-problems`` leaves them out and
lists them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fault_helpers import assert_ok, assert_one_line_error, invoke
from pipeline_tiny_model import register

PHOTO = "looks like a photograph, not a mask"


def _photos_as_truths(pairs: Path, tmp_path: Path, how_many: int | None = None) -> Path:
    """A copy of ``pairs`` whose masks (all, or the first ``how_many``) are its images."""
    copy = tmp_path / "wrong"
    shutil.copytree(pairs, copy)
    images = sorted((copy / "images").iterdir())
    for image in images[:how_many]:
        shutil.copyfile(image, copy / "masks" / image.name)
    return copy


def test_run_refuses_photographs_as_truths_before_inference(run_args, pairs, tmp_path):
    wrong = _photos_as_truths(pairs, tmp_path)
    args = run_args(wrong / "images", tmp_path / "out")
    victim = sorted((wrong / "images").iterdir())[0].name
    assert_one_line_error(invoke(*args, "--masks", wrong / "images"), PHOTO, victim)
    assert not (tmp_path / "out" / "r" / "EndoCV2021").exists()  # nothing was inferred


def test_run_skips_and_lists_photographs_with_skip_problems(run_args, pairs, tmp_path):
    wrong = _photos_as_truths(pairs, tmp_path, how_many=1)
    victim = sorted((wrong / "masks").iterdir())[0].name
    with pytest.warns(UserWarning, match=f"not a mask: masks/{victim}: {PHOTO}"):
        assert_ok(invoke(*run_args(wrong, tmp_path / "out", "r", "--skip-problems")))
    (scores,) = (tmp_path / "out" / "r" / "scores").glob("*.csv")
    names = [line.split(",")[0] for line in scores.read_text().splitlines()[1:]]
    assert len(names) == 3 and Path(victim).stem not in names


def test_score_refuses_photographs_as_truths(pairs, gt_pred, tmp_path):
    _, pred = gt_pred
    victim = sorted((pairs / "images").iterdir())[0].name
    assert_one_line_error(invoke("score", "--gt", pairs / "images", "--pred", pred), PHOTO, victim)


def test_score_skips_and_lists_photographs(pairs, gt_pred, tmp_path):
    truths, pred = gt_pred
    mixed = tmp_path / "mixed"
    shutil.copytree(truths, mixed)
    victim = sorted(mixed.iterdir())[0]
    shutil.copyfile(pairs / "images" / victim.name, victim)
    result = invoke("score", "--gt", mixed, "--pred", pred, "--skip-problems")
    assert_ok(result)
    assert PHOTO in result.output and victim.name in result.output


def test_train_refuses_photographs_as_truths(pairs, tmp_path):
    register()
    wrong = _photos_as_truths(pairs, tmp_path, how_many=2)
    args = ["train", "--model", "pipeline_tiny", "--data", wrong, "--size", "64"]
    args += ["--epochs", "1", "--device", "cpu", "--out", tmp_path / "t"]
    assert_one_line_error(invoke(*args), PHOTO)
    assert not (tmp_path / "t").exists()


def test_calibrate_refuses_photographs_as_truths(pairs, tiny_weights, tmp_path, sample_root):
    register()
    wrong = _photos_as_truths(pairs, tmp_path, how_many=1)
    args = ["calibrate", tiny_weights, "--train-data", sample_root / "kvasir"]
    args += ["--val-data", wrong, "--device", "cpu", "--out", tmp_path / "c.safetensors"]
    assert_one_line_error(invoke(*args), PHOTO)
    assert not (tmp_path / "c.safetensors").exists()
