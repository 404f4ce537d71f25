"""``create_model``: build a registered model, attach its configuration, load its weights.

The registry (:mod:`endobench.models.registry`) knows names and configurations; the checkpoint code
(:mod:`endobench.models.checkpoint`) reads and checks weight files; this module puts the two
together, as timm's ``_factory.py`` does, so that neither of them imports the other's caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from endobench.models.checkpoint import load_weights, read_weights
from endobench.models.registry import model_config, model_factory


def create_model(name: str, weights: str | None = None, **kwargs: Any):
    """Build a registered model, attach its configuration and optionally load weights.

    Args:
        name: A registered model name (see :func:`list_models`).
        weights: None for random initialisation (plus any backbone initialisation the factory's
            kwargs ask for), ``"default"`` for the packaged weights, or a path to an endobench
            ``.safetensors`` checkpoint or a plain torch state dict (official files welcome).
        **kwargs: Passed to the factory (e.g. ``pretrained_backbone=True``, ``backbone_weights=``).

    Returns:
        The ``nn.Module``; ``model.endobench_cfg`` holds the configuration as a dictionary and,
        after loading a checkpoint, ``model.endobench_weights`` describes the file (path, sha256,
        metadata).

    Raises:
        EndobenchError: Unknown model name.
        WeightsError: Weights missing or not fitting the model.
    """
    config = model_config(name)
    loaded = None
    if weights is not None:
        loaded = read_weights(name, weights)
        if config.infer_kwargs is not None:
            kwargs = {**config.infer_kwargs(loaded[0]), **kwargs}
    loads_backbone = bool(kwargs.get("pretrained_backbone") or kwargs.get("backbone_weights"))
    model = _build(model_factory(name), kwargs, skip_init=loaded is not None and not loads_backbone)
    cfg = config.to_dict()
    cfg.update(getattr(model, "endobench_cfg", None) or {})
    model.endobench_cfg = cfg
    model.endobench_weights = None
    if loaded is not None:
        load_weights(model, weights, model_name=name, loaded=loaded)
    return model


def _build(factory: Callable, kwargs: dict, skip_init: bool):
    """Call the factory; when weights will overwrite every tensor, skip the random initialisation.

    The network is then built on the ``meta`` device and given empty CPU storage, which the strict
    checkpoint load fills completely. Models with non-persistent buffers (not in checkpoints) are
    built normally.
    """
    import torch

    if not skip_init:
        return factory(**kwargs)
    with torch.device("meta"):
        model = factory(**kwargs)
    if any(m._non_persistent_buffers_set for m in model.modules()):
        return factory(**kwargs)
    return model.to_empty(device="cpu")
