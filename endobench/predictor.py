"""One predictor interface for every model: preprocess -> forward -> restore -> binarise.

:class:`Predictor` turns RGB images of any size into probability maps and masks at each image's
original size. Its steps are separate so a runner can move :attr:`Predictor.preprocess` (a small
picklable :class:`Preprocess` object with no torch state) into DataLoader workers and call
:meth:`Predictor.forward_batch` on batches.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from endobench.devices import resolve_device
from endobench.errors import ConfigError, WeightsError
from endobench.models.postprocess import check_params, postprocess


@dataclass(frozen=True)
class Preprocess:
    """Resize an RGB uint8 image to ``size`` x ``size`` and normalise it (picklable, torch-free state).

    Larger images are shrunk with pixel-area averaging, smaller ones enlarged bilinearly.

    Attributes:
        size: Square side the network sees.
        mean: Per-channel mean for values in [0, 1].
        std: Per-channel standard deviation.
    """

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def resize(self, image: np.ndarray) -> np.ndarray:
        """Resize an H x W x C image to S x S (any channel order; an S x S image is kept).

        Shrinking averages pixels (like PIL's antialiased resize in PraNet's test loader);
        enlarging interpolates bilinearly.
        """
        if image.shape[:2] == (self.size, self.size):
            return image
        shrink = image.shape[0] * image.shape[1] > self.size * self.size
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        return cv2.resize(image, (self.size, self.size), interpolation=interpolation)

    def to_array(self, image: np.ndarray) -> np.ndarray:
        """Return the normalised 3 x S x S float32 array of an H x W x 3 uint8 RGB image."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ConfigError(f"expected an H x W x 3 RGB image, got shape {image.shape}")
        scaled = self.resize(image).astype(np.float32) / 255.0
        scaled -= np.asarray(self.mean, dtype=np.float32)
        scaled /= np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(scaled.transpose(2, 0, 1))

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        """Return the normalised 3 x S x S float32 tensor of an H x W x 3 uint8 RGB image."""
        return torch.from_numpy(self.to_array(image))


#: Names of the compute dtypes (and their short aliases).
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_dtype(spec: str | torch.dtype | None) -> torch.dtype:
    """Return the compute dtype of a specification: the one rule for every command.

    Args:
        spec: None (float32), a torch dtype (returned as it is), or one of :data:`DTYPES`'s names.

    Returns:
        The dtype.

    Raises:
        ConfigError: The name is not known.
    """
    if spec is None:
        return torch.float32
    if isinstance(spec, torch.dtype):
        return spec
    if spec not in DTYPES:
        raise ConfigError(f"--dtype {spec!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[spec]


class Predictor:
    """Probability maps and masks at original size for any registered model.

    Args:
        model: A registered model name, or a module built by ``create_model`` (None with an
            exported ``.onnx`` file: the file names its model).
        weights: Checkpoint path, a list of paths (a fold ensemble: probabilities are averaged),
            ``"default"``, an ``.onnx`` file from ``endobench export`` (run by ONNX Runtime), or
            None for the model's packaged default weights.
        size: Square input side (default: the model's ``input_size``); a multiple of the model's
            ``size_multiple``.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
        dtype: None/``"float32"``, or ``"bfloat16"``/``"float16"`` for autocast.
        allow_random: With no weights at all, run random weights instead of raising (tests,
            benchmarks).
        optimise: Fold batch norms into convolutions and use channels-last memory, for CPU speed
            (same numbers up to float rounding). ``"auto"``: on the CPU only. A module passed in
            is copied first, never changed.
        batch_size: Images per forward pass in :meth:`predict`.
        backend: ``"auto"`` (ONNX Runtime for an ``.onnx`` file, else PyTorch), ``"torch"`` or
            ``"onnxruntime"`` (see :mod:`endobench.backends`).
        precision: ``"fp32"``, ``"bf16"``/``"fp16"`` (PyTorch autocast), ``"int8"`` (an int8
            export), or None (from ``dtype``, or the exported file's).

    Raises:
        WeightsError: No weights given, none packaged, and ``allow_random`` is False.
        ConfigError: A backend, precision or device that cannot run these weights here.
    """

    #: The CUDA-graph replay of the forward pass (``use_gpu_fast_path``), or None: eager.
    _graphed = None

    def __init__(
        self,
        model: str | nn.Module | None,
        weights: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        size: int | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype | None = None,
        allow_random: bool = False,
        optimise: bool | str = "auto",
        batch_size: int = 8,
        backend: str = "auto",
        precision: str | None = None,
    ):
        from endobench.backends import resolve_backend
        from endobench.models import create_model
        from endobench.models.checkpoint import default_weights_path, missing_weights_error

        self._device = resolve_device(device)
        self._dtype = resolve_dtype(dtype)
        choice = resolve_backend(backend, precision, weights, self._dtype, self._device)
        self.backend, self.precision = choice.backend, choice.precision
        self._dtype, self._runtime = choice.torch_dtype, None
        self.batch_size = int(batch_size)
        if self.backend == "onnxruntime":
            modules, (cfg, metas) = [], self._open_runtime(model, weights, device)
        elif model is None:
            raise ConfigError("pass a model name (or an exported .onnx file as weights)")
        elif isinstance(model, nn.Module):
            if weights is not None:
                raise ConfigError("pass weights with a model name, or load them into the module")
            modules = [model]
            cfg = dict(getattr(model, "endobench_cfg", None) or {})
            metas = [getattr(model, "endobench_weights", None)]
        else:
            if weights is None:
                path = default_weights_path(model)
                if path is not None and path.is_file():
                    weights = "default"
                elif not allow_random:
                    raise missing_weights_error(model)
            files = (
                [weights] if isinstance(weights, (str, os.PathLike)) else list(weights or [None])
            )
            modules = [create_model(model, weights=w) for w in files]
            cfg = dict(modules[0].endobench_cfg)
            metas = [m.endobench_weights for m in modules]
        if not cfg:
            raise WeightsError(
                f"{type(model).__name__}: not built by endobench.models.create_model"
            )
        self._config = cfg
        self._metas = metas
        self._size = _checked_size(int(size or cfg["input_size"]), cfg)
        self._post = check_params(cfg["postprocess"]) if cfg.get("postprocess") else None
        self.preprocess = Preprocess(self._size, tuple(cfg["mean"]), tuple(cfg["std"]))
        if self._runtime is not None:
            self._runtime.check_size(self._size)
        if optimise == "auto":
            optimise = self._device.type == "cpu"
        self._channels_last = bool(optimise) and self._device.type == "cpu"
        if optimise:
            if isinstance(model, nn.Module):
                modules = [copy.deepcopy(model)]
            from endobench.models.fuse import optimise_for_inference

            modules = [
                optimise_for_inference(m, channels_last=self._channels_last) for m in modules
            ]
        self._models = [m.to(self._device).eval() for m in modules]

    def use_gpu_fast_path(
        self, *, precision: str | None = None, channels_last: bool = True, cuda_graphs: bool = True
    ) -> None:
        """Run PyTorch's forward pass in channels-last memory, at ``precision`` (autocast), and
        replayed from a CUDA graph per batch shape on a GPU (see :mod:`endobench.backends.cuda_graphs`).

        The caller vouches for ``precision`` (``endobench.export.gpu_path`` checks its masks).
        """
        from endobench.backends import TORCH_PRECISIONS
        from endobench.backends.cuda_graphs import GraphedForward

        if self._runtime is not None:
            raise ConfigError("the GPU fast path runs PyTorch modules, not an ONNX Runtime file")
        if precision is not None:
            self.precision, self._dtype = precision, TORCH_PRECISIONS[precision]
        if channels_last:
            self._models = [m.to(memory_format=torch.channels_last) for m in self._models]
            self._channels_last = True
        on_gpu = cuda_graphs and self._device.type == "cuda"
        self._graphed = GraphedForward(self._forward_models) if on_gpu else None

    @property
    def inference_path(self) -> str:
        """How the forward pass runs: backend, memory layout, CUDA graph, precision."""
        if self._runtime is not None:
            return f"onnxruntime {self.precision}"
        parts = ["torch", *(["channels_last"] if self._channels_last else [])]
        parts += [self._graphed.describe()] if self._graphed is not None else []
        return " + ".join(parts) + f" {self.precision}"

    def _open_runtime(
        self, model: str | None, weights: str | os.PathLike, device: str | torch.device
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Open an exported file with ONNX Runtime; return its model config and weights record."""
        from endobench.backends.ort import OrtModel

        if str(device) == "auto":
            self._device = torch.device("cpu")  # onnxruntime's CPU wheel
        self._runtime = OrtModel(weights, self._device.type)
        found = self._runtime.model_name
        if model is not None and model != found:
            raise ConfigError(
                f"{weights} is an export of {found!r}, not {model!r}; pass --model {found} or none"
            )
        if self.precision not in (None, self._runtime.precision):
            raise ConfigError(
                f"{weights} is a {self._runtime.precision} export, not {self.precision}; export "
                f"it with --precision {self.precision}"
            )
        self.precision = self._runtime.precision
        return self._runtime.config, [self._runtime.weights_record()]

    @property
    def module(self) -> nn.Module:
        """The PyTorch module (for export); refused for ensembles and ONNX Runtime files."""
        if len(self._models) != 1:
            raise ConfigError("this predictor has no single PyTorch module (ensemble or .onnx)")
        return self._models[0]

    @property
    def model_name(self) -> str:
        """Registered name of the model."""
        return self._config.get("name", "")

    @property
    def input_size(self) -> int:
        """Square side the network sees."""
        return self._size

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        """Compute dtype (float32, or the autocast dtype)."""
        return self._dtype

    @property
    def config(self) -> dict[str, Any]:
        """The model configuration (input size, mean/std, post-processing ...)."""
        return dict(self._config)

    @property
    def weights_sha256(self) -> str | list[str] | None:
        """sha256 of the weights file (a list for an ensemble; None for random weights)."""
        hashes = [m.get("sha256") if m else None for m in self._metas]
        return hashes[0] if len(hashes) == 1 else hashes

    @property
    def postprocess_params(self) -> dict | None:
        """Post-processing parameters used by :meth:`binarize`, or None for ``> 0.5``."""
        return dict(self._post) if self._post else None

    def forward_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Return B x 1 x S x S probabilities (sigmoid of the last output, averaged over models)."""
        if self._runtime is not None:
            return torch.from_numpy(self._runtime(x.detach().cpu().numpy()))
        x = x.to(self._device, non_blocking=True)
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self._graphed is not None:
            return self._graphed(x)
        return self._forward_models(x)

    def _forward_models(self, x: torch.Tensor) -> torch.Tensor:
        autocast = self._dtype in (torch.float16, torch.bfloat16)
        # Autocast's weight cache stays off: a CUDA graph cannot capture it.
        with (
            torch.inference_mode(),
            torch.autocast(self._device.type, self._dtype, enabled=autocast, cache_enabled=False),
        ):
            total = None
            for model in self._models:
                prob = torch.sigmoid(model(x)[-1].float())
                total = prob if total is None else total + prob
        return total / len(self._models)

    @staticmethod
    def restore(prob: np.ndarray | torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
        """Resize an S x S probability map back to ``shape`` = (H, W), bilinear, float32."""
        if torch.is_tensor(prob):
            prob = prob.detach().float().cpu().numpy()
        prob = np.asarray(prob, dtype=np.float32).squeeze()
        height, width = int(shape[0]), int(shape[1])
        if prob.shape == (height, width):
            return prob.copy()
        restored = cv2.resize(prob, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(restored, 0.0, 1.0, out=restored)

    def binarize(self, prob: np.ndarray) -> np.ndarray:
        """Return the H x W bool mask: the model's post-processing if it has one, else ``> 0.5``."""
        if self._post:
            return postprocess(prob, **self._post)
        return np.asarray(prob) > 0.5

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Return one H x W float32 probability map per RGB uint8 image, at its original size."""
        out: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch = torch.stack([self.preprocess(image) for image in chunk])
            probs = self.forward_batch(batch).cpu().numpy()
            out.extend(
                self.restore(p[0], np.asarray(i).shape[:2])
                for p, i in zip(probs, chunk, strict=True)
            )
        return out

    def predict_masks(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Return one H x W bool mask per image (after the model's post-processing, if any)."""
        return [self.binarize(prob) for prob in self.predict(images)]


def _checked_size(size: int, cfg: dict[str, Any]) -> int:
    """The input side, refused (naming the nearest sides) when not a multiple of the model's."""
    from endobench.models import ModelConfig

    multiple = int(cfg.get("size_multiple", ModelConfig.size_multiple))
    if size % multiple:
        lower = size // multiple * multiple
        nearest = f"{lower} or {lower + multiple}" if lower > 0 else str(multiple)
        raise ConfigError(f"input size {size} is not a multiple of {multiple}: use {nearest}")
    return size
