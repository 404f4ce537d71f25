"""The stream's model: one call that opens the predictor (backend, device, threads) and the
temporal filter it carries.

:func:`open_predictor` opens the predictor: an exported ``.onnx`` file runs with ONNX Runtime,
anything else with PyTorch, through :class:`endobench.predictor.Predictor`, the owner of the
device, dtype and backend rules. With ``--backend auto`` (the default) the command then applies
the fast path that ``run`` uses (:func:`endobench.export.fast_backend.select_fast_backend`: on a
CPU, the cached ONNX Runtime export when its masks match eager fp32's), recorded in the summary
as ``backend_choice``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from endobench.errors import ConfigError
from endobench.stream.temporal import FilterParams

DEFAULT_MODEL = "brp_lite_post"


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch (and ONNX Runtime) CPU threads, restored afterwards."""
    import torch

    if threads is None:
        yield
        return
    if threads < 1:
        raise ConfigError(f"--threads {threads}: give at least 1")
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def open_predictor(
    model: str | None, weights: str | None, device: str, batch_size: int, backend: str = "auto"
):
    """Open the predictor of a stream (the one place its backend is chosen).

    Args:
        model: A registered model name; None: the ``.onnx`` file's, else :data:`DEFAULT_MODEL`.
        weights: A checkpoint, an exported ``.onnx`` file, or None for the packaged weights.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps`` (:func:`endobench.devices.resolve_device`).
        batch_size: Frames per forward pass at most.
        backend: ``auto``, ``torch`` or ``onnxruntime`` (:mod:`endobench.backends`); the fast
            path's choice among verified backends is applied after, by the command.

    Returns:
        The :class:`~endobench.predictor.Predictor`; call it from one thread at a time.
    """
    from endobench.backends import is_onnx_file
    from endobench.predictor import Predictor

    if model is None and not is_onnx_file(weights):
        model = DEFAULT_MODEL
    return Predictor(model, weights=weights, device=device, batch_size=batch_size, backend=backend)


@dataclass(frozen=True)
class FilterChoice:
    """The temporal filter of a stream and where it came from (``--filter``, the weights, the
    default)."""

    params: FilterParams
    source: str

    def to_dict(self) -> dict:
        """JSON-ready form for ``summary.json``."""
        return {**self.params.to_dict(), "source": self.source}


def choose_filter(asked: FilterParams | None, model_config: dict) -> FilterChoice:
    """The filter given on the command line, else the one stored with the weights, else the
    default (:data:`endobench.stream.temporal.DEFAULT_FILTER`)."""
    if asked is not None:
        return FilterChoice(asked, "--filter")
    stored = model_config.get("temporal_filter")
    if stored:
        return FilterChoice(FilterParams.from_mapping(stored), "weights (calibrate)")
    return FilterChoice(FilterParams.from_mapping(None), "default")
