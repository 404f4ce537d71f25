"""Models: the registry, the PraNet / Res2Net-PD-RA family, post-processing and checkpoints.

``create_model(name, weights=None, **kwargs)`` builds any registered model; ``list_models()`` names
them; ``model_config(name)`` describes one. Importing this package registers the built-in models.
"""

from endobench.models.registry import (  # noqa: I001  (registry first: the models register into it)
    ModelConfig,
    is_registered,
    list_models,
    model_config,
    register_model,
    reload_plugins,
)
from endobench.models import lite, pranet  # noqa: F401,E402  (register the built-in models)
from endobench.models.checkpoint import load_checkpoint, load_weights, save_checkpoint  # noqa: E402
from endobench.models.factory import create_model  # noqa: E402
from endobench.models.postprocess import calibrate, postprocess, reference_area_from_masks  # noqa: E402

__all__ = [
    "ModelConfig",
    "calibrate",
    "create_model",
    "is_registered",
    "list_models",
    "load_checkpoint",
    "load_weights",
    "model_config",
    "postprocess",
    "reference_area_from_masks",
    "register_model",
    "reload_plugins",
    "save_checkpoint",
]
