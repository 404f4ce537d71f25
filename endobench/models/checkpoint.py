"""endobench's checkpoint format and weight loading.

An endobench checkpoint is a ``.safetensors`` file: the model's tensors plus JSON metadata stored
under the ``endobench`` key of the safetensors header (model name, architecture, input size,
mean/std, post-processing parameters, training data and recipe, metrics, endobench version, and
anything extra). Plain torch state dicts -- official files such as ``PraNet-19.pth``, or
``module.``-prefixed files saved under DistributedDataParallel -- are read with
``torch.load(weights_only=True)`` and mapped through the model's ``checkpoint_filter_fn``.

Nothing is ever downloaded. Weights that do not fit (another architecture, missing keys, wrong
shapes) raise a one-line :class:`~endobench.errors.WeightsError` naming the first mismatching keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from endobench import __version__
from endobench.errors import WeightsError
from endobench.io import atomic_path, sha256_file
from endobench.models.registry import model_config

METADATA_KEY = "endobench"
FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_SHOW = 3


def default_weights_path(model_name: str) -> Path | None:
    """Return where the packaged default weights of a model live (None if it names none)."""
    filename = model_config(model_name).default_weights
    return WEIGHTS_DIR / filename if filename else None


def missing_weights_error(model_name: str) -> WeightsError:
    """The one-line error for a model asked to run with packaged weights it does not have."""
    config = model_config(model_name)
    where = default_weights_path(model_name) or WEIGHTS_DIR
    return WeightsError(
        f"{where}: no packaged weights for model {model_name!r}; {config.weights_hint}, "
        "then pass the file with --weights (weights= in Python)"
    )


def save_checkpoint(
    path: str | os.PathLike,
    model_or_state_dict: nn.Module | dict[str, torch.Tensor],
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an endobench checkpoint atomically.

    Args:
        path: Destination, normally ending in ``.safetensors``.
        model_or_state_dict: A model (its ``endobench_cfg`` fills the metadata defaults) or tensors.
        metadata: JSON-serialisable metadata; merged over the model's configuration.
        dtype: Store floating-point tensors in this dtype (e.g. ``torch.float16``); integer
            tensors (BatchNorm counters) are kept as they are.
        overwrite: Replace an existing file (otherwise an existing file is an error).

    Returns:
        The path written.

    Raises:
        WeightsError: The file exists and ``overwrite`` is False.
    """
    from safetensors.torch import save_file

    dest = Path(path)
    if dest.exists() and not overwrite:
        raise WeightsError(f"{dest} already exists; choose another path")
    meta: dict[str, Any] = {}
    if isinstance(model_or_state_dict, nn.Module):
        cfg = dict(getattr(model_or_state_dict, "endobench_cfg", None) or {})
        for key in (
            "name", "architecture", "input_size", "mean", "std", "postprocess", "temporal_filter",
        ):  # fmt: skip
            if key in cfg:
                meta["model" if key == "name" else key] = cfg[key]
        state_dict = model_or_state_dict.state_dict()
    else:
        state_dict = dict(model_or_state_dict)
    meta.update(metadata or {})
    meta.setdefault("endobench_version", __version__)
    meta["format_version"] = FORMAT_VERSION
    tensors = {}
    for key, value in state_dict.items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    meta["dtype"] = str(dtype or "as saved").replace("torch.", "")
    header = {METADATA_KEY: json.dumps(meta, sort_keys=True, default=str)}
    with atomic_path(dest) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return dest


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: an endobench ``.safetensors`` file or a plain torch state dict.

    Args:
        path: The file.

    Returns:
        ``(state_dict, metadata)``; metadata always has ``format`` (``"endobench"`` or ``"torch"``),
        ``path`` and ``sha256`` of the file. Plain state dicts keep their original key names.

    Raises:
        WeightsError: Missing file, or a file that is not a readable checkpoint.
    """
    src = Path(path)
    if not src.is_file():
        raise WeightsError(f"{src}: weights file not found; check the path")
    if src.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(src), framework="pt") as handle:
                header = handle.metadata() or {}
                state_dict = {key: handle.get_tensor(key) for key in handle.keys()}
        except Exception as err:
            raise WeightsError(f"{src}: not a readable safetensors file ({err})") from None
        try:
            metadata = json.loads(header.get(METADATA_KEY, "{}"))
        except json.JSONDecodeError:
            raise WeightsError(f"{src}: its endobench metadata is not valid JSON") from None
        metadata["format"] = "endobench" if METADATA_KEY in header else "safetensors"
    else:
        try:
            loaded = torch.load(str(src), map_location="cpu", weights_only=True)
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WeightsError(
                f"{src}: not a plain torch state dict (torch's safe loading refuses it: {first}); use an endobench checkpoint or a state dict of tensors"
            ) from None
        state_dict = _unwrap(loaded, src)
        metadata = {"format": "torch"}
    metadata["path"] = str(src)
    metadata["sha256"] = sha256_file(src)
    return state_dict, metadata


def _unwrap(loaded: Any, src: Path) -> dict[str, torch.Tensor]:
    """Find the state dict in a torch file (bare, or under ``state_dict`` / ``model``)."""
    if isinstance(loaded, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not all(torch.is_tensor(v) for v in loaded.values()):
        raise WeightsError(f"{src}: holds no state dict of tensors; save model.state_dict()")
    return dict(loaded)


def check_state_dict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "weights"
) -> None:
    """Check that ``state_dict`` fits ``model`` exactly: every key consumed, none missing, shapes equal.

    Raises:
        WeightsError: One line naming the first unexpected, missing or mis-shaped keys.
    """
    expected = model.state_dict()
    unexpected = [k for k in state_dict if k not in expected]
    missing = [k for k in expected if k not in state_dict]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if not (unexpected or missing or shapes):
        return
    name = (getattr(model, "endobench_cfg", None) or {}).get("name", type(model).__name__)
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({', '.join(missing[:_SHOW])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:_SHOW])})")
    if shapes:
        parts.append(f"{len(shapes)} wrong shapes ({'; '.join(shapes[:_SHOW])})")
    raise WeightsError(
        f"{source}: does not fit model {name!r}: {', '.join(parts)}; "
        "use weights trained for this model (see `endobench models`)"
    )


def read_weights(model_name: str, weights: str | os.PathLike) -> tuple[dict, dict]:
    """Read the checkpoint a model will load: ``"default"`` (packaged) or a path.

    Returns:
        ``(state_dict, metadata)`` as :func:`load_checkpoint` gives them (not yet filtered).

    Raises:
        WeightsError: Missing default weights or an unreadable file.
    """
    if str(weights) == "default":
        path = default_weights_path(model_name)
        if path is None or not path.is_file():
            raise missing_weights_error(model_name)
        weights = path
    return load_checkpoint(weights)


def load_weights(
    model: nn.Module,
    weights: str | os.PathLike,
    model_name: str | None = None,
    loaded: tuple[dict, dict] | None = None,
) -> dict:
    """Load a checkpoint into ``model`` in place, through the model's checkpoint filter.

    Args:
        model: A model built by :func:`~endobench.models.create_model`.
        weights: ``"default"`` (packaged weights) or a path to a checkpoint.
        model_name: The registered name (default: ``model.endobench_cfg["name"]``).
        loaded: ``(state_dict, metadata)`` already read by :func:`read_weights`.

    Returns:
        The checkpoint's metadata (also stored as ``model.endobench_weights``). Post-processing
        parameters, input size, mean and std in the metadata replace the model's defaults in
        ``model.endobench_cfg``.

    Raises:
        WeightsError: Missing default weights, unreadable file, or weights that do not fit.
    """
    cfg = getattr(model, "endobench_cfg", None) or {}
    name = model_name or cfg.get("name")
    config = model_config(name)
    state_dict, metadata = loaded if loaded is not None else read_weights(name, weights)
    if config.filter_fn is not None:
        state_dict = config.filter_fn(state_dict, model)
    check_state_dict(model, state_dict, source=metadata.get("path", str(weights)))
    reference = model.state_dict()
    state_dict = {k: v.to(reference[k].dtype) for k, v in state_dict.items()}
    model.load_state_dict(state_dict, strict=True)
    if metadata.get("postprocess") is not None and cfg.get("postprocess") is not None:
        cfg["postprocess"] = dict(metadata["postprocess"])
    if metadata.get("temporal_filter"):  # `calibrate`'s alarm filter for `endobench stream`
        cfg["temporal_filter"] = dict(metadata["temporal_filter"])
    # Weights trained at another size or normalisation bring their own preprocessing.
    if metadata.get("input_size"):
        cfg["input_size"] = int(metadata["input_size"])
    for key in ("mean", "std"):
        if metadata.get(key):
            cfg[key] = [float(v) for v in metadata[key]]
    model.endobench_weights = metadata
    return metadata
