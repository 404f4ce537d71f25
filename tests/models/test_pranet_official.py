"""PraNet against the official code and checkpoints: same function, every official key consumed."""

from __future__ import annotations

import json

import pytest
import torch
from official_layout import (
    REFERENCE,
    RES2NET_SHAPES,
    official_seeded_float64,
    official_shapes,
    seeded_input,
    summarise,
)

from endobench.errors import WeightsError
from endobench.models import create_model
from endobench.models.checkpoint import check_state_dict
from endobench.models.network import checkpoint_filter_fn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _official_model(name: str) -> torch.nn.Module:
    """The model with the seeded official weights, in float64 (built without random init)."""
    with torch.device("meta"):
        model = create_model(name)
    model = model.to_empty(device="cpu").double().eval()
    state_dict = checkpoint_filter_fn(official_seeded_float64(), model)
    check_state_dict(model, state_dict)
    model.load_state_dict(state_dict, strict=True)
    return model


def _relative_error(got: list[float], want: list[float]) -> float:
    got_t, want_t = torch.tensor(got, dtype=torch.float64), torch.tensor(want, dtype=torch.float64)
    return float((got_t - want_t).abs().max() / want_t.abs().max())


@pytest.mark.parametrize("name", ["pranet", "brp"])
def test_seeded_official_weights_compute_the_original_function(name):
    reference = json.loads(REFERENCE.read_text())
    model = _official_model(name)
    with torch.no_grad():
        outputs = model(seeded_input())
    got = summarise(outputs)
    assert len(got) == len(reference["outputs"]) == 4
    for mine, theirs in zip(got, reference["outputs"], strict=True):
        assert mine["shape"] == theirs["shape"]
        assert abs(mine["sum"] - theirs["sum"]) <= 1e-5 * abs(theirs["abs_sum"])
        assert abs(mine["abs_sum"] - theirs["abs_sum"]) <= 1e-5 * abs(theirs["abs_sum"])
        assert _relative_error(mine["slice"], theirs["slice"]) <= 1e-5


def test_equivalence_check_can_fail():
    """A single changed weight moves the outputs beyond the tolerance (the test is not vacuous)."""
    reference = json.loads(REFERENCE.read_text())
    model = _official_model("pranet")
    with torch.no_grad():
        model.ra2_conv4.conv.weight.mul_(1.01)
        last = summarise(model(seeded_input()))[-1]
    assert _relative_error(last["slice"], reference["outputs"][-1]["slice"]) > 1e-5


def test_official_file_with_every_key_loads_with_nothing_left(tmp_path):
    shapes = official_shapes()
    assert len(shapes) == 922
    assert sum(torch.Size(s).numel() for s in shapes.values()) == pytest.approx(32.6e6, rel=0.01)
    state_dict = {k: torch.zeros(s) if s else torch.tensor(0) for k, s in shapes.items()}
    path = tmp_path / "PraNet-19.pth"
    torch.save({f"module.{k}": v for k, v in state_dict.items()}, path)  # a DDP-saved file
    model = create_model("pranet", weights=str(path))
    assert model.endobench_weights["format"] == "torch"
    assert len(model.endobench_weights["sha256"]) == 64
    mapped = checkpoint_filter_fn(state_dict)
    assert len(mapped) == 922 - 2  # only resnet.fc.weight and resnet.fc.bias are dropped
    assert set(mapped) == set(model.state_dict())


def test_official_file_missing_a_key_names_it():
    model = create_model("pranet")
    state_dict = checkpoint_filter_fn(official_seeded_float64())
    del state_dict["ra3_conv2.bn.running_var"]
    state_dict["extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError) as err:
        check_state_dict(model, state_dict, source="PraNet-19.pth")
    message = str(err.value)
    assert "ra3_conv2.bn.running_var" in message and "extra.weight" in message
    assert "PraNet-19.pth" in message and "\n" not in message


def test_imagenet_res2net_initialises_the_backbone(tmp_path):
    shapes = official_shapes(RES2NET_SHAPES)
    # Zeros, except that each tensor's first value is its index: a misplaced tensor shows.
    state_dict = {k: torch.zeros(s) for k, s in shapes.items() if s}
    for index, value in enumerate(state_dict.values()):
        value.view(-1)[0] = index + 1
    state_dict.update({k: torch.tensor(5) for k, s in shapes.items() if not s})
    path = tmp_path / "res2net50_v1b_26w_4s-3cf99910.pth"
    torch.save(state_dict, path)
    model = create_model("brp", backbone_weights=str(path))
    loaded = model.backbone.state_dict()
    assert len(loaded) == len(shapes) - 2  # fc.weight, fc.bias
    for key, value in loaded.items():
        torch.testing.assert_close(value, state_dict[key])
