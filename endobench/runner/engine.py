"""The runner's view of a predictor: preprocessing for workers, a timed forward pass, restoring.

:class:`endobench.predictor.Predictor` splits prediction into ``preprocess`` (runs in DataLoader
workers), ``forward_batch`` (the timed forward pass on the device), ``restore`` (probabilities back
at the original size) and ``binarize`` (the model's post-processing). This module wraps it with
what the runner records: device name, dtype, input size, threads, weights hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from endobench.errors import ConfigError

if TYPE_CHECKING:
    from endobench.predictor import Predictor
    from endobench.runner.config import RunConfig


def device_name(device: torch.device) -> str:
    """Return a human name of the device (GPU model or CPU model)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from endobench.env import cpu_name

    return cpu_name()


@dataclass
class Engine:
    """A predictor ready for the runner, with the facts every timing needs."""

    predictor: Predictor
    device: torch.device
    dtype: str
    size: int
    backend: str = "torch"
    precision: str = "fp32"
    #: Which backend runs and why (``BackendSelection.record()``), as ``run.json`` keeps it.
    backend_choice: dict[str, Any] | None = None

    @classmethod
    def create(
        cls,
        model: str | None,
        weights: str | list[str] | None,
        size: int | None,
        device: torch.device | str,
        dtype: str,
        optimise: bool = False,
        allow_random: bool = False,
        backend: str = "auto",
        precision: str | None = None,
        progress: bool = False,
        select_backend: Callable[..., Any] | None = None,
    ) -> Engine:
        """Build the model and its predictor, on the fastest verified backend.

        ``optimise`` folds batch norms and uses channels-last memory (the predictor's CPU speed-up);
        ``allow_random`` runs random weights when none are given (speed measurements only);
        ``device`` is the run's device, resolved once (:func:`endobench.runner.shards.open_shard`;
        a specification is resolved here, for callers outside a run).
        ``select_backend`` (``endobench.export.fast_backend.select_fast_backend``, passed down
        from above: the runner imports no ``export``) may then replace eager PyTorch by the
        fastest verified path when ``backend`` is ``auto`` (``progress``: say so while a CPU
        export is built once); without it the predictor runs as resolved.

        Raises:
            ConfigError: Unknown dtype or unavailable device; WeightsError from the model layer.
        """
        from endobench.devices import resolve_device
        from endobench.predictor import Predictor, resolve_dtype

        torch_dtype = resolve_dtype(dtype)
        device = resolve_device(device)
        if torch_dtype == torch.float16 and device.type == "cpu":
            raise ConfigError(
                "--dtype float16 is not supported on the CPU; use float32 or bfloat16"
            )
        predictor = Predictor(
            model,
            weights=weights,
            size=size,
            device=device,
            dtype=torch_dtype,
            optimise=optimise,
            allow_random=allow_random,
            backend=backend,
            precision=precision,
        )
        choice = {"backend": predictor.backend, "reason": "as resolved (no backend selector)"}
        if select_backend is not None:
            selection = select_backend(predictor, requested=backend, progress=progress)
            predictor, choice = selection.predictor, selection.record()
        return cls(
            predictor,
            predictor.device,
            str(predictor.dtype).removeprefix("torch."),
            int(predictor.input_size),
            predictor.backend,
            predictor.precision,
            choice,
        )

    @classmethod
    def for_run(
        cls,
        config: RunConfig,
        device: torch.device,
        progress: bool = False,
        select_backend: Callable[..., Any] | None = None,
    ) -> Engine:
        """The engine of a run's configuration, on the run's device (resolved once)."""
        return cls.create(
            config.model,
            config.weights,
            config.size,
            device,
            config.dtype,
            optimise=config.optimise,
            allow_random=config.random_weights,
            backend=config.backend,
            precision=config.precision,
            progress=progress,
            select_backend=select_backend,
        )

    @property
    def device_name(self) -> str:
        """The GPU or CPU model name."""
        return device_name(self.device)

    @property
    def weights_sha256(self) -> str | list[str] | None:
        """sha256 of the weights file (a list for an ensemble), or None for random weights."""
        return self.predictor.weights_sha256

    @property
    def model_config(self) -> dict[str, Any]:
        """The model's configuration as the predictor uses it."""
        return self.predictor.config

    @property
    def preprocess(self):
        """The predictor's picklable ``HxWx3 uint8 RGB -> 3xSxS float32`` step (runs in workers)."""
        return self.predictor.preprocess

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """Move a preprocessed batch to the device (outside the timed region)."""
        return batch.to(self.device, non_blocking=True)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The timed forward pass: the model's prediction (sigmoid applied) for a batch on the device."""
        return self.predictor.forward_batch(batch)

    @staticmethod
    def to_host(output: torch.Tensor) -> np.ndarray:
        """Copy a batch of probability maps to the host once (outside the timed region)."""
        return output.detach().float().cpu().numpy()

    def probability_and_mask(
        self, output: np.ndarray, index: int, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(probability map, binary mask)`` of one image at its original size."""
        probability = self.predictor.restore(output[index], (height, width))
        probability = np.asarray(probability, dtype=np.float32)
        mask = np.asarray(self.predictor.binarize(probability), dtype=bool)
        return probability, mask

    def conditions(self, num_workers: int, batch_size: int) -> dict[str, Any]:
        """What every speed figure of this engine is conditional on."""
        return {
            "input_size": self.size,
            "dtype": self.dtype,
            "backend": self.backend,
            "precision": self.precision,
            "inference_path": self.predictor.inference_path,
            "device": self.device.type,
            "device_name": self.device_name,
            "threads": torch.get_num_threads(),
            "batch_size": batch_size,
            "num_workers": num_workers,
            "torch": torch.__version__,
        }
