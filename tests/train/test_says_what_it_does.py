"""Training says what it does: the announced split, bars within and across epochs, training speed
apart from validation time, curves with markers, and ``--limit`` where a user expects it."""

from __future__ import annotations

import contextlib
import io

import pytest
from rich.console import Console
from train_helpers import brp_lite_cli_args, make_pair_folder, tiny_config
from typer.testing import CliRunner

from endobench.train import Recipe, train
from endobench.train.display import TrainingDisplay
from endobench.train.fold_plan import plan_training
from endobench.train.history import draw_history, read_history_csv


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_pair_folder(tmp_path_factory.mktemp("pairs") / "tinyset", n=12)


def _cv_recipe(**changes):
    return Recipe(size=64, batch_size=4, epochs=1, scales=(1.0,), folds=3, **changes)


def _plan(tiny_data, tmp_path, **overrides):
    config = tiny_config(tiny_data, tmp_path / "out", epochs=1, **overrides)
    return plan_training(config, config.recipe)


def test_announcement_of_each_kind_of_split(tiny_data, tmp_path):
    held = _plan(tiny_data, tmp_path)
    assert held.announcement == (
        "validation: 3 held-back images (0.25 of 12, seeded); training on 9"
    )
    cv = _plan(tiny_data, tmp_path, val_fraction=None, recipe=_cv_recipe())
    assert [f.fold for f in cv.folds] == [0, 1, 2] and cv.cross_validation
    assert cv.announcement == (
        "3-fold cross-validation of 12 images: each fold trains on 8 and validates on 4 images"
    )
    one = _plan(tiny_data, tmp_path, val_fraction=None, recipe=_cv_recipe(), fold=2)
    assert one.announcement == (
        "3-fold cross-validation, fold 2 only: trains on 8 images, validates on 4"
    )
    external = _plan(tiny_data, tmp_path, val_fraction=None, val_data=[str(tiny_data)])
    assert external.announcement.startswith("validation: 12 images of ")
    none = _plan(tiny_data, tmp_path, val_fraction=None)
    assert none.announcement == (
        "no validation data: training on 12 images, keeping the last epoch's weights"
    )


def test_limit_trains_fold_zero_of_a_cross_validation_recipe_and_limits_validation(
    tiny_data, tmp_path
):
    plan = _plan(tiny_data, tmp_path, val_fraction=None, recipe=_cv_recipe(), limit=2)
    (fold,) = plan.folds
    assert fold.fold == 0 and len(fold.train_pairs) == 2 and len(fold.val_pairs) == 2
    full = _plan(tiny_data, tmp_path, val_fraction=None, recipe=_cv_recipe()).folds[0]
    # The limited validation images are still fold 0's held-back images.
    assert {p.id for p in fold.val_pairs} <= {p.id for p in full.val_pairs}
    assert plan.announcement == (
        "3-fold cross-validation, fold 0 only: trains on 2 images, validates on 2 "
        "(--limit 2: 2 of its 4); --limit trains fold 0 only, --folds 3 trains every fold"
    )
    # --folds given explicitly: every fold, each limited.
    every = _plan(tiny_data, tmp_path, val_fraction=None, recipe=_cv_recipe(), limit=2, folds=3)
    assert [f.fold for f in every.folds] == [0, 1, 2]
    assert all(len(f.train_pairs) == 2 and len(f.val_pairs) == 2 for f in every.folds)
    held = _plan(tiny_data, tmp_path, limit=1)
    assert [(len(f.train_pairs), len(f.val_pairs)) for f in held.folds] == [(1, 1)]
    assert held.announcement.startswith("validation: 1 held-back images (0.25 of 12, seeded)")


class RecordingDisplay(TrainingDisplay):
    """A real display on a captured terminal that also records its batch bars."""

    def __init__(self):
        self.buffer = io.StringIO()
        console = Console(file=self.buffer, force_terminal=True, width=200, color_system=None)
        super().__init__(enabled=True, console=console)
        self.bars: list[dict] = []

    @contextlib.contextmanager
    def batches(self, description, total, done=0):
        bar = {"description": description, "total": total, "done": done, "advances": []}
        self.bars.append(bar)
        with super().batches(description, total, done) as advance:

            def recorded(images, loss=None):
                bar["advances"].append((images, loss))
                advance(images, loss)

            yield recorded


def test_bars_within_and_across_epochs_and_the_announcement(tiny_data, tmp_path):
    display = RecordingDisplay()
    train(tiny_config(tiny_data, tmp_path / "run", epochs=2), display=display)
    trained = [bar for bar in display.bars if " epoch " in bar["description"]]
    validated = [bar for bar in display.bars if " validation " in bar["description"]]
    # 9 training images in batches of 4: three batches an epoch, each advancing the bar once.
    assert [b["description"] for b in trained] == ["64px epoch 1/2", "64px epoch 2/2"]
    assert all(b["total"] == 3 and len(b["advances"]) == 3 for b in trained)
    assert [images for images, _ in trained[0]["advances"]] == [4, 4, 1]
    assert all(loss is not None and loss > 0 for b in trained for _, loss in b["advances"])
    assert [(b["total"], len(b["advances"])) for b in validated] == [(1, 1), (1, 1)]
    shown = display.buffer.getvalue()
    assert "validation: 3 held-back images (0.25 of 12, seeded); training on 9" in shown
    assert "64px epochs" in shown  # the bar across epochs
    assert "64px epoch 2/2: train loss" in shown and "img/s" in shown


def test_training_speed_excludes_validation_time(tiny_data, tmp_path):
    result = train(tiny_config(tiny_data, tmp_path / "run", epochs=2))
    rows = read_history_csv(tmp_path / "run" / "history.csv")
    for kept, row in zip(result.runs[0].history, rows, strict=True):
        assert kept["images_per_s"] == 9 / kept["train_seconds"]
        assert kept["val_seconds"] > 0
        assert kept["seconds"] >= kept["train_seconds"] + kept["val_seconds"]
        assert row["train_seconds"] == pytest.approx(kept["train_seconds"], rel=1e-5)
        assert row["val_seconds"] == pytest.approx(kept["val_seconds"], rel=1e-5)


def test_one_epoch_draws_points():
    import matplotlib.pyplot as plt

    row = {"run": "fold0", "epoch": 1, "train_loss": 0.9, "val_loss": 1.1, "val_dice": 0.4}
    fig = draw_history([row, {**row, "run": "fold1"}])
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert len(lines) == 6
    assert all(line.get_marker() == "o" and len(line.get_xdata()) == 1 for line in lines)
    plt.close(fig)


def test_cli_brp_lite_holds_back_its_recipes_tenth_without_folds(tmp_path):
    """brp_lite's recipe has no folds: without --val-fraction it holds back a tenth, as its
    shipped weights did (a cross-validation recipe under --limit: the test above)."""
    from endobench.cli import app

    data = make_pair_folder(tmp_path / "data", n=10, side=48)
    args = brp_lite_cli_args(data, tmp_path / "run", "--limit", "2")
    args.remove("--val-fraction")
    args.remove("0.34")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "validation: 1 held-back images (0.1 of 10, seeded); training on 2" in result.output
    assert "plan: brp_lite at 64 px (scales 64 px), no folds, 1 epoch, batch 2" in result.output
    assert not any(p.is_dir() for p in (tmp_path / "run").iterdir())  # no fold folders
    assert "64px: best epoch 1 (validation mean Dice" in result.output


def test_batch_bars_print_status_lines_into_a_log_file():
    buffer = io.StringIO()
    display = TrainingDisplay(console=Console(file=buffer, force_terminal=False), log_every_s=0.0)
    with display.batches("64px epoch 2/5", total=3, done=1) as advance:
        advance(4, loss=0.5)
        advance(1, loss=0.25)
    display.close()
    lines = [line for line in buffer.getvalue().splitlines() if line.startswith("64px")]
    assert [line.split(", loss")[0] for line in lines] == [
        "64px epoch 2/5: batch 2/3",
        "64px epoch 2/5: batch 3/3",
    ]
    assert lines[-1].split(", ")[1].startswith("loss 0.2500  ") and lines[-1].endswith(" img/s")


def test_brp_lite_without_size_or_folds_trains_at_352_without_folds(tiny_data, tmp_path):
    """The README's train line: brp_lite's own recipe (the shipped weights'), announced as a plan
    with an estimate measured here before the first epoch."""
    from endobench.train import recipe_for

    recipe = recipe_for("brp_lite").replace(epochs=1, batch_size=4)
    config = tiny_config(
        tiny_data, tmp_path / "out", epochs=1, model="brp_lite", recipe=recipe, val_fraction=None
    )
    config = config.with_recipe_validation(recipe)
    plan = plan_training(config, recipe)
    assert not plan.cross_validation and len(plan.folds) == 1
    assert plan.announcement == "validation: 1 held-back images (0.1 of 12, seeded); training on 11"
    buffer = io.StringIO()
    display = TrainingDisplay(console=Console(file=buffer, width=400))
    config = tiny_config(
        tiny_data,
        tmp_path / "run",
        epochs=1,
        model="brp_lite",
        recipe=recipe,
        val_fraction=None,
        limit=2,
        progress=True,
    )
    train(config, display=display)
    text = buffer.getvalue()
    assert "plan: brp_lite at 352 px (scales 256/352/448 px), no folds, 1 epoch, batch 4" in text
    assert "estimated " in text and " on this machine" in text
    assert text.index("plan: ") < text.index("epoch 1/1")
    # The seed paper's Res2Net models keep its 512 px and five folds.
    assert (recipe_for("brp").size, recipe_for("brp").folds) == (512, 5)
