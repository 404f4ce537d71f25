"""Whole training runs on a tiny set: outputs, exact resume, refusal to overwrite, two DDP ranks."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp
from train_helpers import TinyNet, ddp_worker, make_pair_folder, tiny_config

from endobench.errors import ConfigError
from endobench.train import train
from endobench.train.history import read_history_csv


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_pair_folder(tmp_path_factory.mktemp("pairs") / "tinyset", n=12)


def _state(path):
    return torch.load(path / "state.pt", map_location="cpu", weights_only=False)


def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(tiny_data, tmp_path):
    straight = train(tiny_config(tiny_data, tmp_path / "straight", epochs=2))
    train(tiny_config(tiny_data, tmp_path / "split", epochs=1))
    after_one = _state(tmp_path / "split")["model"]
    resumed = train(tiny_config(tiny_data, tmp_path / "split", epochs=2, resume=True))

    a, b = _state(tmp_path / "straight"), _state(tmp_path / "split")
    assert a["epoch"] == b["epoch"] == 2
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for sa, sb in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(
            sa["exp_avg_sq"], sb["exp_avg_sq"]
        )
    assert [r["train_loss"] for r in straight.runs[0].history] == [
        r["train_loss"] for r in resumed.runs[0].history
    ]
    assert [r["val_dice"] for r in straight.runs[0].history] == [
        r["val_dice"] for r in resumed.runs[0].history
    ]

    # The second epoch did change the weights, so the equality above is not trivial.
    assert any(
        not torch.equal(after_one[k], a["model"][k])
        for k in after_one
        if after_one[k].is_floating_point()
    )


def test_resume_inside_an_interrupted_epoch_is_exact(tiny_data, tmp_path):
    calls = {"n": 0}

    class Interrupted(TinyNet):
        def forward(self, x):
            calls["n"] += 1
            if calls["n"] == 15:  # epoch 2 (9 training + 1 validation forwards an epoch), 2nd batch
                raise KeyboardInterrupt
            return super().forward(x)

    with pytest.raises(KeyboardInterrupt):
        train(
            tiny_config(
                tiny_data,
                tmp_path / "cut",
                epochs=2,
                model_factory=Interrupted,
                checkpoint_minutes=1e-9,
            )
        )
    saved = _state(tmp_path / "cut")
    assert (
        saved["epoch"] == 1
        and saved["partial"]["epoch"] == 2
        and saved["partial"]["batches_done"] == 1
    )
    train(tiny_config(tiny_data, tmp_path / "cut", epochs=2, resume=True))
    train(tiny_config(tiny_data, tmp_path / "whole", epochs=2))
    a, b = _state(tmp_path / "whole"), _state(tmp_path / "cut")
    assert b["partial"] is None and b["epoch"] == 2
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]


def test_outputs_of_a_run(tiny_data, tmp_path):
    result = train(tiny_config(tiny_data, tmp_path / "run", epochs=2))
    run = result.runs[0]
    assert (run.n_train, run.n_val) == (9, 3)
    rows = read_history_csv(tmp_path / "run" / "history.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(0.0 <= r["val_dice"] <= 1.0 and r["train_loss"] > 0 for r in rows)
    assert run.best_epoch == max(rows, key=lambda r: r["val_dice"])["epoch"]
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from endobench.models import load_checkpoint

    tensors, meta = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert meta["training"]["best_epoch"] == run.best_epoch
    assert meta["training"]["seed"] == 3 and meta["training"]["recipe"]["train_sizes"] == [
        32,
        64,
        96,
    ]
    assert meta["validation_metrics"]["mean_dice_0.5"] == pytest.approx(run.best_val_dice)
    assert "cpu" in meta["training"]["machine"]


def test_existing_run_is_not_overwritten_and_resume_checks_settings(tiny_data, tmp_path):
    train(tiny_config(tiny_data, tmp_path / "run", epochs=1))
    with pytest.raises(ConfigError, match="--resume"):
        train(tiny_config(tiny_data, tmp_path / "run", epochs=1))
    with pytest.raises(ConfigError, match="other settings"):
        train(tiny_config(tiny_data, tmp_path / "run", epochs=2, resume=True, seed=4))


def test_five_folds_report_mean_and_std(tiny_data, tmp_path):
    result = train(tiny_config(tiny_data, tmp_path / "cv", epochs=1, val_fraction=None, folds=3))
    assert [r.fold for r in result.runs] == [0, 1, 2]
    assert sum(r.n_val for r in result.runs) == 12
    dices = [r.best_val_dice for r in result.runs]
    assert result.val_dice_mean == pytest.approx(sum(dices) / 3)
    assert (tmp_path / "cv" / "summary.json").is_file() and (
        tmp_path / "cv" / "fold2" / "best.safetensors"
    ).is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_ranks_agree(tiny_data, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    mp.spawn(
        ddp_worker, args=(_free_port(), tiny_data, tmp_path / "ddp", results), nprocs=2, join=True
    )
    rank0 = torch.load(results / "rank0.pt", weights_only=False)
    rank1 = torch.load(results / "rank1.pt", weights_only=False)
    for key in rank0["weights"]:
        assert torch.equal(rank0["weights"][key], rank1["weights"][key]), key
    metrics = ("epoch", "train_loss", "val_loss", "val_dice")
    # Losses and Dice are reduced over both ranks, so both report the same numbers.
    assert [[r[k] for k in metrics] for r in rank0["history"]] == [
        [r[k] for k in metrics] for r in rank1["history"]
    ]
    assert (tmp_path / "ddp" / "state.pt").is_file()
    assert _state(tmp_path / "ddp")["epoch"] == 2
