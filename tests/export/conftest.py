"""A tiny registered network with a saved checkpoint, exported once per session (fast CPU tests).

Export tests run on one thread: the tensors are tiny, and on a shared machine threads that wait
for a busy core slow every call down.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from export_tiny_model import TINY, register_tiny


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A checkpoint of the tiny net (seeded random weights, batch-norm statistics set)."""
    from endobench.models import create_model, save_checkpoint

    register_tiny()
    torch.manual_seed(0)
    model = create_model(TINY)
    with torch.no_grad():
        model.body[1].running_mean.uniform_(-0.2, 0.2)
        model.body[1].running_var.uniform_(0.5, 2.0)
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", model)


@pytest.fixture(scope="session")
def tiny_onnx(tiny_weights, tmp_path_factory) -> Path:
    """The tiny net exported once (fp32) for the tests that only read or run a file."""
    from endobench.export import export_onnx

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    return export_onnx(TINY, out, weights=str(tiny_weights)).path
