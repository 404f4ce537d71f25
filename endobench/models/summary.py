"""Facts about registered models for ``endobench models``: parameters, GFLOPs, input size, weights.

Counting runs the model on PyTorch's ``meta`` device (shapes only, no arithmetic, no memory), so
even the Res2Net models are summarised in well under a second each; results are cached in memory.
"""

from __future__ import annotations

from typing import Any


def count_model(name: str, size: int | None = None) -> tuple[int, float]:
    """Return ``(parameters, GFLOPs)`` of a registered model at ``size`` (default: its input size).

    GFLOPs count one forward pass of a 1 x 3 x size x size input (a multiply-add is two FLOPs), as
    ``torch.utils.flop_counter`` counts them. Models of one architecture share the count.
    """
    from endobench.models.registry import model_config

    config = model_config(name)
    side = int(size or config.input_size)
    key = (config.architecture or name, side)
    if key not in _COUNTS:
        _COUNTS[key] = _count(name, side)
    return _COUNTS[key]


_COUNTS: dict[tuple[str, int], tuple[int, float]] = {}


def _count(name: str, side: int) -> tuple[int, float]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from endobench.models.factory import create_model

    with torch.device("meta"):
        model = create_model(name).eval()
        x = torch.empty(1, 3, side, side)
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return params, counter.get_total_flops() / 1e9


def local_weights(name: str) -> str | None:
    """Return the path of a model's packaged default weights when present locally, else None."""
    from endobench.models.checkpoint import default_weights_path

    path = default_weights_path(name)
    return str(path) if path is not None and path.is_file() else None


def weights_input_size(path: str | None) -> int | None:
    """Return the input size recorded in an endobench checkpoint's metadata, else None.

    Reads only the safetensors header (no tensors); a file without that record, or one that
    cannot be read, gives None.
    """
    if path is None or not path.endswith(".safetensors"):
        return None
    import json

    from safetensors import safe_open

    from endobench.models.checkpoint import METADATA_KEY

    try:
        with safe_open(path, framework="pt") as handle:
            header = handle.metadata() or {}
        size = json.loads(header.get(METADATA_KEY, "{}")).get("input_size")
        return int(size) if size else None
    except Exception:  # an unreadable file is reported when it is used, not in a listing
        return None


def summarise_models(
    names: list[str] | None = None, with_flops: bool = True
) -> list[dict[str, Any]]:
    """One row per registered model: name, parameters (M), GFLOPs, input size, local weights.

    The input size is the one the local weights were trained at (recorded in the checkpoint, and
    the size every run with them uses), else the model's registered default; ``size_from`` says
    which (``"weights"`` or ``"default"``). GFLOPs are counted at that size.

    Args:
        names: Models to describe (default: every registered one).
        with_flops: Count parameters and GFLOPs (set False for an instant listing).
    """
    from endobench.models.registry import list_models, model_config

    rows = []
    for name in names or list_models():
        config = model_config(name)
        weights = local_weights(name)
        trained_size = weights_input_size(weights)
        row: dict[str, Any] = {
            "name": name,
            "params_m": None,
            "gflops": None,
            "input_size": trained_size or config.input_size,
            "size_from": "weights" if trained_size else "default",
            "postprocess": config.postprocess is not None,
            "weights": weights,
            "description": config.description,
        }
        if with_flops:
            params, gflops = count_model(name, row["input_size"])
            row["params_m"] = params / 1e6
            row["gflops"] = gflops
        rows.append(row)
    return rows
