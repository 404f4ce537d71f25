"""Seeded weights in the official PraNet layout, and the seeded input, shared by the equivalence test.

The reference numbers in ``data/pranet_reference.json`` were computed once by running the original
PraNet code (github.com/DengPingFan/PraNet, ``lib/PraNet_Res2Net.py``) in float64 on exactly these
weights and this input; only the numbers are kept here, not that code.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent / "data"
PRANET_SHAPES = DATA / "pranet19_state_dict_shapes.json"
RES2NET_SHAPES = DATA / "res2net50_v1b_26w_4s_state_dict_shapes.json"
REFERENCE = DATA / "pranet_reference.json"
WEIGHT_SEED = 2021
INPUT_SEED = 352
INPUT_SHAPE = (1, 3, 64, 64)


@functools.lru_cache(maxsize=2)
def official_seeded_float64() -> dict[str, torch.Tensor]:
    """The seeded official PraNet weights in float64, built once per session (do not mutate)."""
    return seeded_state_dict(official_shapes())


def official_shapes(path: Path = PRANET_SHAPES) -> dict[str, tuple[int, ...]]:
    """Key -> shape of an official checkpoint, in the file's order."""
    return {k: tuple(v) for k, v in json.loads(path.read_text()).items()}


def seeded_state_dict(
    shapes: dict[str, tuple[int, ...]], seed: int = WEIGHT_SEED, dtype=torch.float64
) -> dict[str, torch.Tensor]:
    """Deterministic weights for every key: key i (in sorted order) drawn from generator seed + i.

    Convolution weights are He-scaled so activations stay finite through 50 layers; batch-norm
    running variances are positive, running means and biases small.
    """
    out = {}
    for index, key in enumerate(sorted(shapes)):
        shape = shapes[key]
        gen = torch.Generator().manual_seed(seed + index)
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(index, dtype=torch.long)
        elif key.endswith("running_var"):
            out[key] = 0.5 + torch.rand(shape, generator=gen, dtype=dtype)
        elif key.endswith("running_mean") or key.endswith(".bias"):
            out[key] = 0.1 * torch.randn(shape, generator=gen, dtype=dtype)
        elif len(shape) == 1:  # batch-norm scale
            out[key] = 0.5 + 0.5 * torch.rand(shape, generator=gen, dtype=dtype)
        else:
            fan_in = math.prod(shape[1:])
            out[key] = torch.randn(shape, generator=gen, dtype=dtype) * math.sqrt(2.0 / fan_in)
    return {k: out[k] for k in shapes}


def seeded_input(dtype=torch.float64) -> torch.Tensor:
    """The fixed input image batch of the equivalence test."""
    gen = torch.Generator().manual_seed(INPUT_SEED)
    return torch.randn(INPUT_SHAPE, generator=gen, dtype=dtype)


def summarise(outputs) -> list[dict]:
    """The numbers kept per output map: shape, sum, absolute sum, and a strided 8x8 slice."""
    return [
        {
            "shape": list(o.shape),
            "sum": float(o.sum()),
            "abs_sum": float(o.abs().sum()),
            "slice": o[0, 0, ::8, ::8].flatten().tolist(),
        }
        for o in outputs
    ]
