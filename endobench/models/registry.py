"""The model registry: ``@register_model`` factories, their configurations and third-party plugins.

Every model is a factory function decorated with :func:`register_model`; the decorator records the
model's configuration (default input size, normalisation, post-processing, default weights and the
``checkpoint_filter_fn`` that remaps foreign checkpoints). Building a model is
:func:`endobench.models.factory.create_model`'s job; this module only knows names (it imports
neither torch nor the checkpoint code).

Third-party packages add models through the entry-point group ``endobench.models``: each entry point
names a module (importing it registers its models) or a callable (calling it registers them). They are
loaded lazily, the first time the registry is looked up.
"""

from __future__ import annotations

import copy
import importlib.metadata
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from endobench.errors import EndobenchError

ENTRY_POINT_GROUP = "endobench.models"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

FilterFn = Callable[[dict, Any], dict]


@dataclass(frozen=True)
class ModelConfig:
    """What endobench knows about a registered model besides its code.

    Attributes:
        name: Registered name.
        input_size: Default square input side in pixels (the network sees ``input_size`` squared).
        mean: Per-channel normalisation mean for RGB values scaled to [0, 1].
        std: Per-channel normalisation standard deviation.
        num_outputs: How many logit maps ``forward`` returns (the prediction is the last).
        size_multiple: Input sides must be multiples of this: the deepest feature's stride, 32 for
            every built-in backbone (the network checks it against its backbone's ``feature_info``).
        postprocess: Default post-processing parameters, or None for a plain ``> 0.5`` threshold.
        default_weights: File name of packaged weights under ``endobench/weights``, or None.
        weights_hint: One sentence telling a user how to obtain weights for this model.
        architecture: Models with the same architecture share weights (one checkpoint format).
        description: One line shown by ``endobench models``.
        filter_fn: ``(state_dict, model) -> state_dict`` remapping foreign checkpoints, or None.
        infer_kwargs: ``state_dict -> kwargs`` reading constructor arguments (e.g. head widths)
            from a checkpoint's shapes, so that ``create_model(name, weights=f)`` builds a fitting
            network; explicit kwargs win.
        module: Where the factory is defined (plugins show their own module here).
    """

    name: str
    input_size: int = 352
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    num_outputs: int = 1
    size_multiple: int = 32
    postprocess: dict | None = None
    default_weights: str | None = None
    weights_hint: str = "train weights with `endobench train`"
    architecture: str = ""
    description: str = ""
    filter_fn: FilterFn | None = field(default=None, compare=False, repr=False)
    infer_kwargs: Callable[[dict], dict] | None = field(default=None, compare=False, repr=False)
    module: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable part of the configuration (no ``filter_fn``)."""
        out = asdict(self)
        out.pop("filter_fn")
        out.pop("infer_kwargs")
        out["mean"] = list(self.mean)
        out["std"] = list(self.std)
        out["postprocess"] = copy.deepcopy(self.postprocess)
        return out


_FACTORIES: dict[str, Callable[..., Any]] = {}
_CONFIGS: dict[str, ModelConfig] = {}
_LOADED_ENTRY_POINTS: set[tuple[str, str]] = set()
_plugins_loaded = False


def register_model(fn: Callable | None = None, **config: Any) -> Callable:
    """Register a model factory under its function name (usable bare or with configuration).

    Examples::

        @register_model
        def tiny(**kwargs): ...

        @register_model(input_size=512, num_outputs=4, description="...")
        def brp(**kwargs): ...

    Args:
        fn: The factory when used bare; it must return an ``nn.Module``.
        **config: Fields of :class:`ModelConfig` (``name`` overrides the function name).

    Returns:
        The factory itself, unchanged (or a decorator when called with configuration only).

    Raises:
        EndobenchError: A model of that name is already registered.
    """

    def decorate(factory: Callable) -> Callable:
        name = config.get("name", factory.__name__)
        if name in _FACTORIES:
            raise EndobenchError(
                f"model {name!r} is already registered by {_CONFIGS[name].module}; "
                f"choose another name for the one in {factory.__module__}"
            )
        fields = {k: v for k, v in config.items() if k != "name"}
        fields["mean"] = tuple(fields.get("mean", IMAGENET_MEAN))
        fields["std"] = tuple(fields.get("std", IMAGENET_STD))
        fields.setdefault("architecture", name)
        fields.setdefault("module", factory.__module__)
        _CONFIGS[name] = ModelConfig(name=name, **fields)
        _FACTORIES[name] = factory
        return factory

    return decorate(fn) if fn is not None else decorate


def _load_plugins() -> None:
    """Load every ``endobench.models`` entry point not loaded yet (warn about broken ones)."""
    global _plugins_loaded
    _plugins_loaded = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (entry_point.name, entry_point.value)
        if key in _LOADED_ENTRY_POINTS:
            continue
        _LOADED_ENTRY_POINTS.add(key)
        try:
            target = entry_point.load()
            if not isinstance(target, ModuleType) and target not in _FACTORIES.values():
                if callable(target):
                    target()
        except Exception as err:  # a broken plugin must not break the built-in models
            warnings.warn(
                f"endobench model plugin {entry_point.name!r} ({entry_point.value}) failed to "
                f"load: {err}",
                stacklevel=2,
            )


def reload_plugins() -> None:
    """Look for ``endobench.models`` entry points again (after installing a plugin at run time)."""
    _load_plugins()


def _ensure_loaded() -> None:
    # The built-in models registered themselves when the package endobench.models was imported
    # (always before this module); plugins load on the first look-up.
    if not _plugins_loaded:
        _load_plugins()


def list_models() -> list[str]:
    """Return the names of every registered model, sorted."""
    _ensure_loaded()
    return sorted(_FACTORIES)


def model_config(name: str) -> ModelConfig:
    """Return the :class:`ModelConfig` of a registered model.

    Raises:
        EndobenchError: Unknown name (the message lists the known ones).
    """
    _ensure_loaded()
    if name not in _CONFIGS:
        raise EndobenchError(
            f"unknown model {name!r}; known models: {', '.join(sorted(_CONFIGS))} "
            f"(third-party models register through the {ENTRY_POINT_GROUP!r} entry point)"
        )
    return _CONFIGS[name]


def is_registered(name: str) -> bool:
    """Return True when ``name`` is a registered model."""
    _ensure_loaded()
    return name in _FACTORIES


def model_factory(name: str) -> Callable[..., Any]:
    """Return the factory function registered under ``name``.

    Raises:
        EndobenchError: Unknown name (the message lists the known ones).
    """
    model_config(name)
    return _FACTORIES[name]
