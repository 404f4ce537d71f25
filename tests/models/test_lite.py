"""The offline ImageNet initialisation of EfficientNet-Lite0 and batch-norm folding."""

from __future__ import annotations

import copy

import pytest
import torch

from endobench.errors import WeightsError
from endobench.models import create_model
from endobench.models.fuse import fuse_batchnorm, optimise_for_inference
from endobench.models.lite import lite0_imagenet_state_dict, lite0_weights_file


@pytest.fixture(scope="module")
def package_state_dict():
    return torch.load(lite0_weights_file(), map_location="cpu", weights_only=True)


def test_mapping_consumes_all_296_tensors_in_order(package_state_dict):
    mapped = lite0_imagenet_state_dict()
    assert len(package_state_dict) == len(mapped) == 296
    pairs = list(zip(package_state_dict.items(), mapped.items(), strict=True))
    for (src_key, src), (dst_key, dst) in pairs:
        assert src is dst or torch.equal(src, dst), (src_key, dst_key)
    names = {src_key: dst_key for (src_key, _), (dst_key, _) in pairs}
    assert names["_conv_stem.weight"] == "conv_stem.weight"
    assert names["_blocks.0._depthwise_conv.weight"] == "blocks.0.0.conv_dw.weight"
    assert names["_fc.weight"] == "classifier.weight"


def test_pretrained_backbone_holds_the_imagenet_tensors(package_state_dict):
    model = create_model("brp_lite", pretrained_backbone=True)
    backbone = model.backbone.state_dict()
    assert len(backbone) == 296 - 8  # conv_head, bn2 (5) and the classifier (2) are not features
    torch.testing.assert_close(
        backbone["conv_stem.weight"], package_state_dict["_conv_stem.weight"]
    )
    torch.testing.assert_close(
        backbone["blocks.6.0.bn3.running_var"], package_state_dict["_blocks.15._bn2.running_var"]
    )


def test_a_file_with_other_shapes_is_refused(tmp_path, package_state_dict):
    broken = dict(package_state_dict)
    broken.pop("_fc.bias")
    path = tmp_path / "short.pth"
    torch.save(broken, path)
    with pytest.raises(WeightsError, match="295 tensors"):
        lite0_imagenet_state_dict(path)
    swapped = dict(package_state_dict)
    swapped["_conv_stem.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(swapped, path)
    with pytest.raises(WeightsError, match="_conv_stem.weight"):
        lite0_imagenet_state_dict(path)


def test_imagenet_features_classify_a_photo_sensibly():
    """The mapped weights in tf_efficientnet_lite0 with mean = std = 0.5 see a daisy in flower.jpg."""
    import numpy as np
    import timm
    from sklearn.datasets import load_sample_image

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    net.load_state_dict(lite0_imagenet_state_dict())
    image = load_sample_image("flower.jpg")[:, 100:527]  # centre square
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        top5 = net((x - 0.5) / 0.5).topk(5).indices[0].tolist()
    assert 985 in top5  # ImageNet class 985: daisy


@pytest.mark.parametrize("name", ["brp_lite", "bp"])
def test_batchnorm_folding_keeps_the_function(name):
    torch.manual_seed(5)
    model = create_model(name).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        fused = fuse_batchnorm(copy.deepcopy(model))
        got = fused(x)
    remaining = [m for m in fused.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if name == "brp_lite":
        assert not remaining
    assert len(remaining) < sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * float(b.abs().max()))
    fast = optimise_for_inference(copy.deepcopy(model))
    with torch.no_grad():
        out = fast(x.contiguous(memory_format=torch.channels_last))[-1]
    torch.testing.assert_close(
        out, expected[-1], rtol=1e-3, atol=1e-3 * float(expected[-1].abs().max())
    )
