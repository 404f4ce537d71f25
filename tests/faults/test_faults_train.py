"""Bad inputs and faults of ``endobench train``: each a one-line error before any epoch runs."""

from __future__ import annotations

import errno
import shutil

import numpy as np
import pytest
from fault_helpers import assert_ok, assert_one_line_error, invoke, leftovers, truncate
from pipeline_tiny_model import register


@pytest.fixture
def train_args(pairs):
    """``endobench train`` arguments: the tiny model, 64 px, one epoch, a quarter held back."""
    register()

    def args(out, *extra: object, data=pairs) -> list[object]:
        return [
            "train",
            "--model",
            "pipeline_tiny",
            "--data",
            data,
            "--val-fraction",
            "0.25",
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
            "--threads",
            "1",
            "--device",
            "cpu",
            "--out",
            out,
            *extra,
        ]

    return args


def test_a_tiny_training_runs(train_args, tmp_path):
    assert_ok(invoke(*train_args(tmp_path / "t")))
    assert (tmp_path / "t").is_dir() and leftovers(tmp_path / "t") == []


def test_empty_data_folder(train_args, tmp_path):
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir(parents=True)
    assert_one_line_error(invoke(*train_args(tmp_path / "t", data=tmp_path / "empty")))


def test_unknown_data_name(train_args, tmp_path):
    args = train_args(tmp_path / "t", "--data-root", tmp_path, data="no-such-set:train")
    assert_one_line_error(invoke(*args), "no-such-set")


def test_truncated_training_image_is_named(train_args, pairs, tmp_path):
    victim = truncate(sorted((pairs / "images").iterdir())[1], 0.5)
    assert_one_line_error(invoke(*train_args(tmp_path / "t")), victim.name)


def test_truncated_training_mask_is_named(train_args, pairs, tmp_path):
    victim = truncate(sorted((pairs / "masks").iterdir())[3], 0.5)
    assert_one_line_error(invoke(*train_args(tmp_path / "t")), victim.name)


@pytest.mark.parametrize("kind", ["random bytes", "truncated"])
def test_wrong_init_weights_are_named(train_args, tmp_path, tiny_weights, kind):
    bad = tmp_path / "init.safetensors"
    if kind == "random bytes":
        bad.write_bytes(np.random.default_rng(3).bytes(2048))
    else:
        shutil.copy(tiny_weights, bad)
        truncate(bad, 0.6)
    assert_one_line_error(invoke(*train_args(tmp_path / "t", "--init", bad)), bad.name)


def test_size_not_a_multiple_of_32(train_args, tmp_path):
    args = train_args(tmp_path / "t")
    args[args.index("--size") + 1] = "300"
    assert_one_line_error(invoke(*args), "288 or 320")


def test_out_under_a_file(train_args, tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(invoke(*train_args(tmp_path / "file" / "t")), "file")


def test_disk_full_while_training_keeps_what_was_written(train_args, tmp_path, monkeypatch):
    from fault_helpers import FailingWrites

    out = tmp_path / "t"
    FailingWrites(monkeypatch, out, errno.ENOSPC)
    line = assert_one_line_error(invoke(*train_args(out)), "no space left")
    assert str(out) in line and leftovers(out) == []
