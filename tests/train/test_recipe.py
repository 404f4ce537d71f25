"""Recipe defaults per model and the multi-scale training sides."""

from __future__ import annotations

import pytest

from endobench.errors import ConfigError
from endobench.train.recipe import multiscale_sizes, parse_scales, recipe_for


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (352, [256, 352, 448]),  # 264 -> 8.25 -> 8; 440 -> 13.75 -> 14
        (512, [384, 512, 640]),
        (288, [224, 288, 352]),  # 216 -> 6.75 -> 7; 360 -> 11.25 -> 11
        (64, [64, 64, 64]),  # 48/32 = 1.5 and 80/32 = 2.5 both round half to even: 2
    ],
)
def test_multiscale_sizes_round_to_multiples_of_32_like_pranet(size, expected):
    assert multiscale_sizes(size, (0.75, 1, 1.25)) == expected


def test_scale_below_32_pixels_is_rejected():
    with pytest.raises(ConfigError):
        multiscale_sizes(64, (0.2, 1))


def test_published_defaults_per_model():
    pranet = recipe_for("pranet")
    assert (pranet.size, pranet.batch_size, pranet.lr, pranet.epochs, pranet.clip) == (
        352,
        16,
        1e-4,
        20,
        0.5,
    )
    assert pranet.scales == (0.75, 1.0, 1.25) and pranet.folds == 0
    for name in ("brp", "brp_post", "br", "bp"):  # the seed paper's Res2Net models
        seed = recipe_for(name)
        assert (seed.size, seed.folds, seed.lr, seed.batch_size) == (512, 5, 1e-4, 16)
        assert seed.scales == pranet.scales and seed.val_fraction == 0


def test_brp_lite_takes_the_recipe_of_its_shipped_weights():
    """brp_lite's defaults are those recorded in the shipped file's training metadata."""
    from endobench.models import load_checkpoint
    from endobench.models.checkpoint import default_weights_path

    _, meta = load_checkpoint(default_weights_path("brp_lite"))
    training, stage = meta["training"], meta["training"]
    while "init" in stage:  # down to the first stage, trained from ImageNet weights
        stage = stage["init"]["training"]
    for name in ("brp_lite", "brp_lite_post"):
        lite = recipe_for(name)
        assert lite.size == meta["input_size"] == training["recipe"]["size"] == 352
        assert lite.scales == tuple(training["recipe"]["scales"]) == (0.75, 1.0, 1.25)
        assert lite.batch_size == training["recipe"]["batch_size"] == 8
        assert (lite.lr, lite.epochs) == (stage["recipe"]["lr"], stage["recipe"]["epochs"])
        held_back = training["n_val"] / (training["n_val"] + training["n_train"])
        assert lite.folds == 0 and lite.val_fraction == pytest.approx(held_back) == 0.1


def test_replace_checks_values():
    assert recipe_for("brp_lite").replace(size=288, epochs=None).size == 288
    with pytest.raises(ConfigError, match="use 288 or 320"):
        recipe_for("pranet").replace(size=300)
    with pytest.raises(ConfigError):
        recipe_for("pranet").replace(folds=1)


def test_parse_scales():
    assert parse_scales("0.75, 1,1.25") == (0.75, 1.0, 1.25)
    with pytest.raises(ConfigError):
        parse_scales("0.75;1")


def test_cli_module_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, endobench.cli.train; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
