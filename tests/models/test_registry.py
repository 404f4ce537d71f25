"""The registry: names, configurations, errors, and third-party models through entry points."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from endobench.errors import EndobenchError
from endobench.models import create_model, list_models, model_config, register_model, registry

BUILT_IN = {"pranet", "brp", "bp", "br", "brp_post", "brp_lite", "brp_lite_post"}


@pytest.fixture
def isolated_registry(monkeypatch):
    """Let a test register models without leaving them behind for the others."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "_CONFIGS", dict(registry._CONFIGS))
    monkeypatch.setattr(registry, "_LOADED_ENTRY_POINTS", set(registry._LOADED_ENTRY_POINTS))
    return registry


def test_built_in_models_are_listed_with_their_configs():
    assert BUILT_IN <= set(list_models())
    assert model_config("brp").input_size == 512
    assert model_config("pranet").input_size == 352
    assert model_config("brp_lite").mean == (0.5, 0.5, 0.5)
    assert model_config("brp_post").postprocess is not None
    assert model_config("brp").postprocess is None
    assert model_config("bp").num_outputs == 1


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(EndobenchError) as err:
        model_config("pranet_v9")
    message = str(err.value)
    assert "pranet_v9" in message and "brp_lite" in message and "\n" not in message


def test_duplicate_name_raises(isolated_registry):
    @register_model(input_size=64)
    def tiny_duplicate_probe(**kwargs):
        return torch.nn.Conv2d(3, 1, 1)

    with pytest.raises(EndobenchError, match="already registered"):
        register_model(tiny_duplicate_probe)
    with pytest.raises(EndobenchError, match="already registered"):
        register_model(name="brp")(lambda **kw: None)


def test_create_model_attaches_config_and_passes_kwargs(isolated_registry):
    @register_model(input_size=96, mean=(0.1, 0.2, 0.3), description="probe")
    def tiny_kwargs_probe(width: int = 4, **kwargs):
        return torch.nn.Conv2d(3, width, 1)

    model = create_model("tiny_kwargs_probe", width=7)
    assert model.out_channels == 7
    assert model.endobench_cfg["name"] == "tiny_kwargs_probe"
    assert model.endobench_cfg["input_size"] == 96
    assert model.endobench_cfg["mean"] == [0.1, 0.2, 0.3]


PLUGIN_MODULE = textwrap.dedent(
    """
    import torch
    from endobench.models import register_model


    @register_model(input_size=64, num_outputs=1, description="a third-party model")
    def plugin_tiny_net(**kwargs):
        return torch.nn.Conv2d(3, 1, 3, padding=1)


    def register_more():
        @register_model(input_size=32)
        def plugin_callable_net(**kwargs):
            return torch.nn.Conv2d(3, 1, 1)
    """
)


def test_plugin_entry_points_are_loaded_lazily(tmp_path, monkeypatch, isolated_registry):
    dist = tmp_path / "endobench_plugin_probe-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: endobench-plugin-probe\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[endobench.models]\n"
        "probe = endobench_plugin_probe\n"
        "probe_more = endobench_plugin_probe:register_more\n"
    )
    (tmp_path / "endobench_plugin_probe.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    try:
        assert "endobench_plugin_probe" not in sys.modules
        names = list_models()  # first lookup loads the entry points
        assert "plugin_tiny_net" in names and "plugin_callable_net" in names
        assert model_config("plugin_tiny_net").module == "endobench_plugin_probe"
        model = create_model("plugin_tiny_net")
        assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 1, 8, 8)
        registry.reload_plugins()  # loading again registers nothing twice
        assert list_models().count("plugin_tiny_net") == 1
    finally:
        sys.modules.pop("endobench_plugin_probe", None)


def test_broken_plugin_warns_instead_of_breaking(tmp_path, monkeypatch, isolated_registry):
    dist = tmp_path / "endobench_broken_probe-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: endobench-broken-probe\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[endobench.models]\nbroken = endobench_no_such_module\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    with pytest.warns(UserWarning, match="broken"):
        names = list_models()
    assert BUILT_IN <= set(names)
