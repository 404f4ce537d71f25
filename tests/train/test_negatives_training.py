"""`endobench train --negatives`: negatives in every batch, validated by sequence, recorded, resumable."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from train_helpers import make_pair_folder, tiny_config
from typer.testing import CliRunner

import endobench.train.epoch as epoch_module
from endobench.train import train
from endobench.train.fold_state import run_identity
from endobench.train.provenance import ids_digest
from endobench.train.recipe import Recipe


def _framing(out, epochs, negatives, **more):
    """A tiny configuration whose recipe frames a quarter of the positives."""
    from endobench.train import Recipe

    recipe = Recipe(size=64, batch_size=4, epochs=epochs, scales=(0.5, 1.0, 1.5), frame_share=0.25)
    return dict(negatives=negatives, recipe=recipe, **more)


def _negative_folder(root, sequences=(("seqA", 3), ("seqB", 3), ("seqC", 2), ("seqD", 2))):
    rng = np.random.default_rng(7)
    for name, n in sequences:
        (root / name).mkdir(parents=True)
        for i in range(n):
            image = rng.integers(30, 90, size=(40, 56, 3), dtype=np.uint8)
            image[:, :16] = 0  # a black side panel: the frames are donors for framed positives
            cv2.imwrite(str(root / name / f"{name}_img{i}.png"), image)
    return root


@pytest.fixture
def folders(tmp_path):
    return make_pair_folder(tmp_path / "pos", n=8, side=48), _negative_folder(tmp_path / "negs")


def test_every_training_batch_holds_its_share_of_all_background_targets(
    folders, tmp_path, monkeypatch
):
    positives, negatives = folders
    empty_per_batch = []
    loss = epoch_module.deep_supervision_loss

    def recording(outputs, truth, bce="weighted"):
        if torch.is_grad_enabled():  # training steps only, not validation
            empty_per_batch.append(int((truth.flatten(1).amax(1) == 0).sum()))
        return loss(outputs, truth, bce=bce)

    monkeypatch.setattr(epoch_module, "deep_supervision_loss", recording)
    config = tiny_config(positives, tmp_path / "run", epochs=1, negatives=[str(negatives)])
    result = train(config)
    # 6 training positives, 3 a batch beside 1 negative (0.25 of 4): 2 batches of 3 sides each.
    assert empty_per_batch == [1] * 6
    row = result.runs[0].history[0]
    assert 0.0 <= row["val_fp_rate"] <= 1.0


def test_negatives_are_split_by_sequence_and_recorded(folders, tmp_path):
    from endobench.models import load_checkpoint
    from endobench.train.history import read_history_csv

    positives, negatives = folders
    out = tmp_path / "run"
    train(tiny_config(positives, out, epochs=1, **_framing(out, 1, [str(negatives)])))
    _, meta = load_checkpoint(out / "best.safetensors")
    record = meta["training"]["negatives"]
    assert record["folders"] == ["negs: 10 frames in 4 sequences"]
    assert record["n_train_frames"] + record["n_val_frames"] == 10
    assert len(record["val_sequences"]) == 1  # 0.25 of 4 sequences
    assert record["crops"] is True and record["n_crops"] >= 1 and record["fraction"] == 0.25
    assert record["n_view_crops"] == record["n_train_frames"]  # every frame has a side panel
    assert record["n_framed_positives"] == 6 and record["frame_share"] == 0.25
    trained = set(meta["training"]["trained_ids"])
    val_seq = record["val_sequences"][0]
    negative_ids = {i for i in trained if i.startswith("negs/")}
    assert len(negative_ids) == record["n_train_frames"]
    assert not any(f"/{val_seq}/" in i for i in trained)
    assert meta["training"]["trained_ids_sha256"] == ids_digest(trained)
    assert not trained & set(meta["training"]["validation_ids"])
    assert meta["validation_metrics"]["n_negative_frames"] == record["n_val_frames"]
    assert read_history_csv(out / "history.csv")[0]["val_fp_rate"] is not None


def test_a_run_with_negatives_resumes_exactly(folders, tmp_path):
    positives, negatives = folders
    negs = [str(negatives)]
    whole = train(tiny_config(positives, tmp_path / "whole", 2, **_framing(None, 2, negs)))
    train(tiny_config(positives, tmp_path / "parts", 1, **_framing(None, 1, negs)))
    resumed = train(
        tiny_config(positives, tmp_path / "parts", 2, **_framing(None, 2, negs, resume=True))
    )
    a, b = whole.runs[0].final_state, resumed.runs[0].final_state
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_without_negatives_the_identity_is_that_of_earlier_versions(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "out", epochs=1)
    info = {"names": ["x"], "n_train": 1, "train_ids": ["x/1"], "val_ids": []}
    identity = run_identity(config, Recipe(), None, info)
    assert "negative_fraction" not in identity["recipe"] and "negative_ids_sha256" not in identity
    with_negatives = {**info, "negative_train_ids": ["n/1"], "negative_val_ids": []}
    identity = run_identity(config, Recipe(), None, with_negatives)
    assert identity["recipe"]["negative_fraction"] == 0.25
    assert identity["negative_ids_sha256"] == ids_digest(["n/1"])


def test_cli_takes_negatives_and_their_share(folders, tmp_path):
    from endobench.cli import app
    from endobench.models import load_checkpoint

    positives, negatives = folders
    out = tmp_path / "cli"
    args = ["train", "--model", "brp_lite", "--data", str(positives), "--val-fraction", "0.25"]
    args += ["--size", "64", "--epochs", "1", "--batch-size", "4", "--scales", "1"]
    args += ["--workers", "0", "--out", str(out), "--negatives", str(negatives)]
    args += ["--negative-fraction", "0.5", "--no-negative-crops"]
    result = CliRunner().invoke(app, [*args, "--frame-share", "0.5", "--freeze-norm"])
    assert result.exit_code == 0, result.output
    _, meta = load_checkpoint(out / "best.safetensors")
    record = meta["training"]["negatives"]
    assert record["fraction"] == 0.5 and record["crops"] is False and record["n_crops"] == 0
    assert record["frame_share"] == 0.5 and record["n_framed_positives"] == 6
    assert meta["training"]["recipe"]["freeze_norm"] is True
    bad = CliRunner().invoke(app, [*args[:-3], "--negative-fraction", "1", "--out", str(out) + "b"])
    assert bad.exit_code == 2 and "--negative-fraction 1" in bad.output


def test_runs_with_negatives_of_earlier_versions_keep_their_identity(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "out", epochs=1)
    info = {"names": ["x"], "n_train": 1, "train_ids": ["x/1"], "val_ids": []}
    info |= {"negative_train_ids": ["n/1"], "negative_val_ids": []}
    recipe = run_identity(config, Recipe(), None, info)["recipe"]
    assert "frame_share" not in recipe and "freeze_norm" not in recipe  # both off by default
    framed = run_identity(config, Recipe(frame_share=0.25, freeze_norm=True), None, info)
    assert framed["recipe"]["frame_share"] == 0.25 and framed["recipe"]["freeze_norm"] is True
