"""create_model lives in models/factory.py; the network reads channels and strides from timm."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch
from torch import nn

import endobench.models
from endobench.errors import ConfigError
from endobench.models import create_model, factory, registry
from endobench.models.network import ParallelReverseAttentionNet


def test_create_model_is_the_factory_one():
    assert endobench.models.create_model is factory.create_model


def test_registry_imports_no_model_building_code():
    tree = ast.parse(inspect.getsource(registry))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not any(name.startswith("endobench.models") for name in imported)
    assert "torch" not in imported


@pytest.mark.parametrize(
    ("name", "channels", "strides"),
    [("brp_lite", (40, 112, 320), (8, 16, 32)), ("brp", (512, 1024, 2048), (8, 16, 32))],
)
def test_channels_and_strides_come_from_feature_info(name, channels, strides):
    model = create_model(name)
    assert model.strides == strides
    assert model.output_stride == 32
    assert model.ra4_conv1.conv.in_channels == channels[2]
    assert model.ra3_conv1.conv.in_channels == channels[1]
    assert model.ra2_conv1.conv.in_channels == channels[0]
    assert model.endobench_cfg["size_multiple"] == model.output_stride


def test_input_side_must_be_a_multiple_of_the_output_stride():
    model = create_model("brp_lite").eval()
    with pytest.raises(ConfigError, match="multiples of 32"):
        model(torch.zeros(1, 3, 80, 96))


def test_backbone_without_feature_info_is_refused():
    with pytest.raises(ConfigError, match="feature_info"):
        ParallelReverseAttentionNet(nn.Conv2d(3, 8, 3))


def test_strides_must_double():
    import timm

    backbone = timm.create_model(
        "tf_efficientnet_lite0", pretrained=False, features_only=True, out_indices=(1, 2, 4)
    )
    with pytest.raises(ConfigError, match="s, 2s, 4s"):
        ParallelReverseAttentionNet(backbone)
