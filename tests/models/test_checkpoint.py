"""endobench checkpoints: round trips, metadata, shared formats, wrong files, default weights."""

from __future__ import annotations

import pytest
import torch

from endobench.errors import WeightsError
from endobench.io import sha256_file
from endobench.models import checkpoint as checkpoint_module
from endobench.models import create_model, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def lite_model():
    torch.manual_seed(3)
    model = create_model("brp_lite").eval()
    with torch.no_grad():  # non-trivial running statistics, so they must travel too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model


def test_round_trip_float32_is_exact(tmp_path, lite_model):
    path = save_checkpoint(
        tmp_path / "lite.safetensors",
        lite_model,
        {"training": {"data": "kvasir_train", "epochs": 1}, "metrics": {"dice": 0.5}},
    )
    state_dict, meta = load_checkpoint(path)
    assert meta["format"] == "endobench"
    assert meta["model"] == "brp_lite" and meta["input_size"] == 352
    assert meta["mean"] == [0.5, 0.5, 0.5] and meta["training"]["epochs"] == 1
    assert meta["sha256"] == sha256_file(path) and meta["endobench_version"]
    expected = lite_model.state_dict()
    assert set(state_dict) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state_dict[key], value), key
    reloaded = create_model("brp_lite", weights=str(path)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x)[-1], lite_model(x)[-1], rtol=0, atol=0)


def test_round_trip_float16_halves_the_file(tmp_path, lite_model):
    full = save_checkpoint(tmp_path / "a.safetensors", lite_model)
    half = save_checkpoint(tmp_path / "b.safetensors", lite_model, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    state_dict, meta = load_checkpoint(half)
    assert meta["dtype"] == "float16"
    assert state_dict["backbone.conv_stem.weight"].dtype == torch.float16
    assert state_dict["backbone.bn1.num_batches_tracked"].dtype == torch.long
    model = create_model("brp_lite", weights=str(half)).eval()
    assert model.backbone.conv_stem.weight.dtype == torch.float32
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[-1], lite_model(x)[-1], rtol=2e-2, atol=2e-2)


def test_existing_file_is_not_overwritten(tmp_path, lite_model):
    path = save_checkpoint(tmp_path / "c.safetensors", lite_model.state_dict())
    with pytest.raises(WeightsError, match="already exists"):
        save_checkpoint(path, lite_model)
    save_checkpoint(path, lite_model, overwrite=True)


def test_other_architecture_is_one_line_naming_keys(tmp_path, lite_model):
    path = save_checkpoint(tmp_path / "lite.safetensors", lite_model)
    with pytest.raises(WeightsError) as err:
        create_model("bp", weights=str(path))
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "'bp'" in message
    assert "missing keys" in message and "unexpected keys" in message


def test_wrong_shapes_name_the_key(tmp_path, lite_model):
    state_dict = dict(lite_model.state_dict())
    state_dict["ra2_conv1.conv.weight"] = torch.zeros(64, 41, 1, 1)
    path = save_checkpoint(tmp_path / "bad.safetensors", state_dict)
    with pytest.raises(WeightsError, match=r"wrong shapes \(ra2_conv1.conv.weight"):
        create_model("brp_lite", weights=str(path))


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        create_model("brp_lite", weights=str(tmp_path / "nope.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="safe loading"):
        load_checkpoint(garbage)
    pickled = tmp_path / "pickled.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "note": object.__new__(_Opaque)}, pickled)
    with pytest.raises(WeightsError, match="safe loading"):
        load_checkpoint(pickled)


class _Opaque:
    pass


def test_plain_torch_wrappers_and_ddp_prefix(tmp_path, lite_model):
    wrapped = tmp_path / "ddp.pth"
    torch.save(
        {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in lite_model.state_dict().items()}},
        wrapped,
    )
    model = create_model("brp_lite_post", weights=str(wrapped))
    assert model.endobench_weights["format"] == "torch"
    assert torch.equal(model.ra4_conv1.conv.weight, lite_model.ra4_conv1.conv.weight)


def test_post_variant_loads_plain_weights_and_takes_calibrated_params(tmp_path, lite_model):
    calibrated = {"reference_area": 0.01, "confidence": 0.7, "polarise": 0.4}
    path = save_checkpoint(tmp_path / "cal.safetensors", lite_model, {"postprocess": calibrated})
    post = create_model("brp_lite_post", weights=str(path))
    assert post.endobench_cfg["postprocess"] == calibrated
    plain = create_model("brp_lite", weights=str(path))  # brp_lite ignores the parameters
    assert plain.endobench_cfg["postprocess"] is None
    defaults = create_model(
        "brp_lite_post", weights=str(save_checkpoint(tmp_path / "p.safetensors", plain))
    )
    assert defaults.endobench_cfg["postprocess"]["confidence"] == 0.5


def test_default_weights_missing_is_a_how_to(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoint_module, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsError) as err:
        create_model("brp", weights="default")
    message = str(err.value)
    assert "brp.safetensors" in message and "PraNet-19.pth" in message and "\n" not in message


def test_default_weights_are_used_when_present(monkeypatch, tmp_path, lite_model):
    monkeypatch.setattr(checkpoint_module, "WEIGHTS_DIR", tmp_path)
    save_checkpoint(tmp_path / "brp_lite.safetensors", lite_model)
    model = create_model("brp_lite", weights="default")
    assert torch.equal(model.agg1.conv5.weight, lite_model.agg1.conv5.weight)


def test_checkpoint_with_other_head_widths_builds_a_fitting_network(tmp_path):
    wide = create_model("brp_lite", ra_channels=(256, 64, 64), channels=24)
    path = save_checkpoint(tmp_path / "wide.safetensors", wide)
    model = create_model("brp_lite", weights=str(path))
    assert model.ra4_conv2.conv.weight.shape == (256, 256, 5, 5)
    assert model.agg1.conv4.conv.weight.shape == (72, 72, 3, 3)
    assert torch.equal(model.ra4_conv2.conv.weight, wide.ra4_conv2.conv.weight)
    with pytest.raises(WeightsError, match="wrong shapes"):  # explicit arguments still win
        create_model("brp_lite", weights=str(path), ra_channels=(64, 32, 32))


def test_checkpoint_preprocessing_becomes_the_predictors_default(tmp_path):
    """Weights trained at 96 px with their own normalisation are run at 96 px with it."""
    from endobench.models import create_model, save_checkpoint
    from endobench.predictor import Predictor

    model = create_model("brp_lite")
    path = tmp_path / "small.safetensors"
    save_checkpoint(
        path, model, {"input_size": 96, "mean": [0.4, 0.4, 0.4], "std": [0.2, 0.2, 0.2]}
    )
    predictor = Predictor("brp_lite", weights=path, device="cpu")
    assert predictor.input_size == 96
    assert predictor.preprocess.mean == (0.4, 0.4, 0.4)
    assert Predictor("brp_lite", weights=path, size=128, device="cpu").input_size == 128
