"""FoldState: one object per fold, saved whole to state.pt and resumed whole."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from train_helpers import make_pair_folder, tiny_config

import endobench.train.distributed as D
from endobench.train.fold_plan import plan_training
from endobench.train.fold_state import open_fold_state


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_pair_folder(tmp_path_factory.mktemp("pairs") / "tinyset", n=8)


def _open(config):
    (plan,) = plan_training(config, config.recipe).folds
    return open_fold_state(config, config.recipe, D.setup("cpu"), plan)


def test_a_saved_state_resumes_whole(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path / "run", epochs=2)
    state = _open(config)
    assert (state.epoch, state.history, state.partial, state.finished) == (0, [], None, False)
    # One made-up epoch: weights, Adam moments, schedule and counters all change.
    loss = sum(p.float().pow(2).sum() for p in state.model.parameters())
    loss.backward()
    state.optimizer.step()
    state.scheduler.step()
    row = {"run": "64px", "epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "val_dice": 0.25}
    assert state.end_epoch({**row, "seconds": 2.0})
    partial = {"epoch": 2, "batches_done": 1, "total": 1.5, "count": 4, "seconds": 0.5}
    state.save(partial)
    expected_draw = torch.rand(3)  # what the saved generator draws next
    torch.manual_seed(1234)

    resumed = _open(dataclasses.replace(config, resume=True))
    assert torch.equal(torch.rand(3), expected_draw)  # the random generators came back too
    assert (resumed.epoch, resumed.elapsed_s, resumed.partial) == (1, 2.0, partial)
    assert resumed.resumed_partial() == partial
    assert resumed.best == {"epoch": 1, "val_dice": 0.25, "val_loss": 0.6, "train_loss": 0.5}
    assert resumed.history == state.history
    assert resumed.scheduler.state_dict() == state.scheduler.state_dict()
    for key, value in state.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    saved_adam = state.optimizer.state_dict()["state"]
    for index, moments in resumed.optimizer.state_dict()["state"].items():
        assert torch.equal(moments["exp_avg"], saved_adam[index]["exp_avg"])


def test_a_worse_epoch_is_not_the_best(tiny_data, tmp_path):
    state = _open(tiny_config(tiny_data, tmp_path / "run", epochs=3))
    base = {"run": "64px", "train_loss": 0.5, "val_loss": 0.6, "seconds": 1.0}
    assert state.end_epoch({**base, "epoch": 1, "val_dice": 0.5})
    assert not state.end_epoch({**base, "epoch": 2, "val_dice": 0.4})
    assert state.best["epoch"] == 1 and state.epoch == 2 and state.elapsed_s == 2.0
    result = state.result()
    assert (result.best_epoch, result.epochs_done, result.n_train, result.n_val) == (1, 2, 6, 2)
