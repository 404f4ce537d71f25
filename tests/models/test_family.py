"""Every registered model on small inputs: outputs, shapes, finiteness, gradients; the ablations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from endobench.errors import ConfigError, WeightsError
from endobench.models import create_model, list_models, model_config

BUILT_IN = ["pranet", "brp", "bp", "br", "brp_post", "brp_lite", "brp_lite_post"]


def _first_backbone_weight(model: torch.nn.Module) -> torch.Tensor:
    return next(p for name, p in model.named_parameters() if name.startswith("backbone."))


@pytest.mark.parametrize("name", BUILT_IN)
def test_model_forward_and_gradients(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    x = torch.randn(2, 3, 64, 64)
    outputs = model(x)
    assert isinstance(outputs, list)
    assert len(outputs) == model_config(name).num_outputs == model.endobench_cfg["num_outputs"]
    for out in outputs:
        assert out.shape == (2, 1, 64, 64)
        assert torch.isfinite(out).all()
    # Not a plain mean: batch norm in training mode makes mean(output) independent of the weights.
    target = (torch.rand(2, 1, 64, 64) > 0.5).float()
    sum(F.binary_cross_entropy_with_logits(o, target) for o in outputs).backward()
    assert _first_backbone_weight(model).grad.abs().sum() > 0
    heads = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    assert heads and all(p.grad is not None for p in heads)
    # Head convolutions only: timm zero-initialises the last BN of each Res2Net block, so some
    # backbone branches get no gradient at initialisation by design.
    dead = [
        n
        for n, p in model.named_parameters()
        if p.dim() == 4 and not n.startswith("backbone.") and not p.grad.abs().sum() > 0
    ]
    assert not dead


def test_every_registered_model_is_covered():
    assert set(BUILT_IN) <= set(list_models())


def _keys(name: str) -> set[str]:
    with torch.device("meta"):  # names and shapes only: no memory, no initialisation cost
        return set(create_model(name).state_dict())


def test_family_heads_differ_as_the_paper_describes():
    brp_keys, bp_keys, br_keys = _keys("brp"), _keys("bp"), _keys("br")
    assert not any(k.startswith("ra") for k in bp_keys)  # no reverse attention
    assert any(k.startswith("agg1.") for k in bp_keys)
    assert not any(k.startswith(("agg1.", "rfb")) for k in br_keys)  # no partial decoder
    assert any(k.startswith("head5.") for k in br_keys)
    assert bp_keys < brp_keys
    assert _keys("brp_post") == brp_keys == _keys("pranet")
    assert _keys("brp_lite_post") == _keys("brp_lite")


def test_bp_prediction_is_the_upsampled_global_map_of_brp():
    torch.manual_seed(1)
    brp = create_model("brp").eval()
    with torch.device("meta"):
        bp = create_model("bp")
    bp = bp.to_empty(device="cpu").eval()  # every tensor is loaded below: skip random init
    bp.load_state_dict({k: v for k, v in brp.state_dict().items() if k in bp.state_dict()})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(bp(x)[-1], brp(x)[0])


def test_lite_uses_strides_8_16_32():
    model = create_model("brp_lite")
    assert model.backbone.feature_info.reduction() == [8, 16, 32]
    assert model.backbone.feature_info.channels() == [40, 112, 320]


def test_input_side_must_be_a_multiple_of_32():
    model = create_model("brp_lite").eval()
    with pytest.raises(ConfigError, match="multiples of 32"):
        model(torch.zeros(1, 3, 64, 80 + 4))


def test_res2net_imagenet_weights_need_an_explicit_file():
    with pytest.raises(WeightsError, match="backbone_weights"):
        create_model("brp", pretrained_backbone=True)


def test_post_variants_carry_postprocess_params():
    model = create_model("brp_lite_post", postprocess={"polarise": 0.42})
    params = model.endobench_cfg["postprocess"]
    assert params["polarise"] == 0.42 and params["reference_area"] > 0
    assert create_model("brp_lite").endobench_cfg["postprocess"] is None


def test_lite_keeps_the_decoder_and_narrows_reverse_attention():
    lite = create_model("brp_lite")
    assert lite.agg1.conv4.conv.weight.shape == (96, 96, 3, 3)  # brp's 32-channel decoder
    assert lite.ra4_conv2.conv.weight.shape == (64, 64, 5, 5)
    assert lite.ra2_conv2.conv.weight.shape == (32, 32, 3, 3)
    wide = create_model("brp_lite", ra_channels=(256, 64, 64))
    assert wide.ra4_conv2.conv.weight.shape == (256, 256, 5, 5)
