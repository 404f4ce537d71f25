"""`endobench train --init`: a second stage starting from trained weights, on a clean validation split."""

from __future__ import annotations

import pytest
from train_helpers import brp_lite_cli_args, make_pair_folder
from typer.testing import CliRunner

from endobench.errors import ConfigError
from endobench.io import sha256_file
from endobench.models.card import build_card
from endobench.train.start_weights import check_start_split


def _parameters(state_dict):
    """Learned tensors only: batch-norm running statistics move in any training step."""
    return {
        k: v.float()
        for k, v in state_dict.items()
        if "running_" not in k and "num_batches" not in k
    }


def test_second_stage_starts_from_the_given_weights_and_records_them(tmp_path):
    from endobench.cli import app
    from endobench.models import load_checkpoint

    data = make_pair_folder(tmp_path / "data", n=6, side=48)
    runner = CliRunner()
    first = runner.invoke(app, brp_lite_cli_args(data, tmp_path / "stage1"))
    assert first.exit_code == 0, first.output
    stage1 = tmp_path / "stage1" / "best.safetensors"

    # A learning rate of 1e-9 moves no parameter by more than a few 1e-9 in one Adam step, so the
    # second stage's weights show where it started: stage 1's, not a fresh ImageNet initialisation.
    second = runner.invoke(
        app, brp_lite_cli_args(data, tmp_path / "stage2", "--init", str(stage1), "--lr", "1e-9")
    )
    assert second.exit_code == 0, second.output
    start, start_meta = load_checkpoint(stage1)
    end, end_meta = load_checkpoint(tmp_path / "stage2" / "best.safetensors")
    start, end = _parameters(start), _parameters(end)
    assert start.keys() == end.keys()
    assert max((start[k] - end[k]).abs().max().item() for k in start) < 1e-6

    init = end_meta["training"]["init"]
    assert init["sha256"] == sha256_file(stage1)
    assert init["file"] == "best.safetensors"
    assert init["training"]["epochs_trained"] == 1
    assert end_meta["training"]["validation_ids"] == start_meta["training"]["validation_ids"]
    stages = build_card(tmp_path / "stage2" / "best.safetensors")["stages"]
    assert [(s["lr"], s["epochs"], s["best_epoch"]) for s in stages] == [
        (2e-4, 1, 1),
        (1e-9, 1, 1),
    ]  # brp_lite: lr 2e-4

    # Another seed holds back other images, some of which trained stage 1: refused in one line.
    leaky = runner.invoke(
        app,
        brp_lite_cli_args(data, tmp_path / "stage2b", "--init", str(stage1), "--seed", "5"),
    )
    assert leaky.exit_code == 2, leaky.output
    assert "trained those weights" in leaky.output and "Traceback" not in leaky.output
    assert not (tmp_path / "stage2b").exists()


def test_start_split_check():
    # Weights that record what they trained on refuse exactly those images, nothing else.
    trained = ({}, {"training": {"trained_ids": ["a", "b"], "validation_ids": ["c"]}})
    check_start_split(trained, None, ["c", "z"])
    with pytest.raises(ConfigError, match=r"1 of this run's validation images \(e.g. b\) trained"):
        check_start_split(trained, None, ["b", "z"])
    # Older records list only what they held back: anything else may have trained them.
    held_back = ({}, {"training": {"validation_ids": ["a", "b", "c"]}})
    check_start_split(held_back, None, ["a", "c"])
    with pytest.raises(ConfigError, match=r"1 of this run's validation images \(e.g. d\)"):
        check_start_split(held_back, None, ["a", "d"])
    # Weights from elsewhere (no record of their training images) cannot be checked.
    check_start_split(({}, {"format": "torch"}), None, ["z"])
    check_start_split(({}, {"training": "60 Adam steps elsewhere"}), None, ["z"])


def test_shipped_weights_trained_on_pranet_train_lists_minus_their_held_back_images():
    from endobench.data import pranet_split
    from endobench.models.checkpoint import read_weights
    from endobench.train.provenance import ids_digest, trained_on

    _, metadata = read_weights("brp_lite", "default")
    record = trained_on(metadata)
    assert record.source == "recorded"
    train_ids = {f"{n}/{s}" for n in ("kvasir", "clinicdb") for s in pranet_split(n, "train")}
    held_back = set(metadata["training"]["validation_ids"])
    positives = {i for i in record.ids if not i.startswith("polypgen/")}
    assert positives == train_ids - held_back and len(positives) == 1305
    negatives = metadata["training"]["negatives"]
    assert len(record.ids - positives) == negatives["n_train_frames"] == 226
    assert metadata["training"]["trained_ids_sha256"] == ids_digest(record.ids)
    tests = {f"{n}/{s}" for n in ("kvasir", "clinicdb") for s in pranet_split(n, "test")}
    assert not record.ids & tests


def test_init_default_accepts_the_bundled_sample_and_refuses_an_image_it_trained_on(tmp_path):
    from endobench.cli import app
    from endobench.models import load_checkpoint

    data = make_pair_folder(tmp_path / "data", n=4, side=48)
    runner = CliRunner()
    args = ["--init", "default", "--val-data", "sample/kvasir,sample/clinicdb"]
    cli = [a for a in brp_lite_cli_args(data, tmp_path / "ft", *args) if a != "--val-fraction"]
    cli.remove("0.34")
    accepted = runner.invoke(app, cli)
    assert accepted.exit_code == 0, accepted.output
    _, meta = load_checkpoint(tmp_path / "ft" / "best.safetensors")
    # The fine-tuned weights trained on the shipped weights' 1305 images, their 226 negative
    # frames and these 4.
    assert len(meta["training"]["trained_ids"]) == 1305 + 226 + 4
    assert meta["validation_metrics"]["n_images"] == 20  # the 20 sample pairs validated

    trained = tmp_path / "kvasir"  # a folder named kvasir gives ids kvasir/<stem>
    make_pair_folder(trained, n=1, side=48)
    stem = "cju0qkwl35piu0993l0dewei2"  # in PraNet's Kvasir training list, not held back
    for part in ("images", "masks"):
        (trained / part / "p000.png").rename(trained / part / f"{stem}.png")
    cli[cli.index("sample/kvasir,sample/clinicdb")] = str(trained)
    cli[cli.index(str(tmp_path / "ft"))] = str(tmp_path / "refused")
    refused = runner.invoke(app, cli)
    assert refused.exit_code == 2, refused.output
    assert f"(e.g. kvasir/{stem}) trained those weights" in refused.output
    assert "Traceback" not in refused.output and len(refused.output.strip().splitlines()) == 1


def test_missing_init_file_is_a_one_line_error(tmp_path):
    from endobench.cli import app

    data = make_pair_folder(tmp_path / "data", n=6, side=48)
    result = CliRunner().invoke(
        app, brp_lite_cli_args(data, tmp_path / "run", "--init", str(tmp_path / "nope.safetensors"))
    )
    assert result.exit_code == 2
    assert "nope.safetensors: weights file not found" in result.output
