"""Where a predictor's forward pass runs: eager PyTorch or ONNX Runtime, and at which precision.

The :class:`~endobench.predictor.Predictor` alone decides (device, dtype and backend); this module
holds the rule it applies:

* ``backend="auto"`` runs an exported ``.onnx`` file with ONNX Runtime and everything else with
  PyTorch; ``"torch"`` and ``"onnxruntime"`` choose explicitly and refuse weights of the other kind.
* ``precision`` is ``fp32``, ``bf16`` (PyTorch autocast; refused on CPUs without bfloat16
  instructions), ``fp16`` (PyTorch autocast on a GPU) or ``int8`` (an int8 export run by ONNX
  Runtime). ``None`` takes the precision of the dtype, or of the exported file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from endobench.errors import ConfigError

BACKENDS = ("auto", "torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
#: The torch compute dtype of each precision that PyTorch runs.
TORCH_PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
#: CPU flags (Linux ``/proc/cpuinfo``) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class BackendChoice:
    """The resolved backend and precision of a predictor.

    Attributes:
        backend: ``"torch"`` or ``"onnxruntime"``.
        precision: One of :data:`PRECISIONS`, or None for ONNX Runtime when the file decides.
    """

    backend: str
    precision: str | None

    @property
    def torch_dtype(self) -> torch.dtype:
        """The autocast dtype of a PyTorch precision (float32 for everything else)."""
        return TORCH_PRECISIONS.get(self.precision or "fp32", torch.float32)


def is_onnx_file(weights: str | os.PathLike | Sequence | None) -> bool:
    """Whether ``weights`` names one ``.onnx`` file (by its suffix)."""
    return isinstance(weights, (str, os.PathLike)) and Path(weights).suffix.lower() == ".onnx"


def precision_of_dtype(dtype: torch.dtype) -> str:
    """Return the precision name of a torch compute dtype (``torch.bfloat16`` -> ``"bf16"``)."""
    for name, value in TORCH_PRECISIONS.items():
        if value == dtype:
            return name
    raise ConfigError(f"dtype {dtype} has no precision name; use float32, bfloat16 or float16")


def resolve_backend(
    backend: str,
    precision: str | None,
    weights: str | os.PathLike | Sequence | None,
    dtype: torch.dtype,
    device: torch.device,
) -> BackendChoice:
    """Choose the backend and precision of a predictor, refusing contradictions in one line.

    Args:
        backend: ``auto``, ``torch`` or ``onnxruntime``.
        precision: ``fp32``, ``bf16``, ``fp16``, ``int8`` or None (from ``dtype``, or the file's).
        weights: What the predictor was given to load.
        dtype: The resolved compute dtype (float32 unless a dtype was asked for).
        device: The resolved device.

    Returns:
        The choice.

    Raises:
        ConfigError: Unknown names, weights of the wrong kind for the backend, a precision the
            backend cannot run, or bf16 on a CPU without bfloat16 instructions.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if precision is not None and precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    onnx = is_onnx_file(weights)
    if backend == "auto":
        backend = "onnxruntime" if onnx else "torch"
    if backend == "onnxruntime" and not onnx:
        raise ConfigError(
            "--backend onnxruntime runs an exported file: export it with "
            "`endobench export --model M --out F.onnx`, then pass --weights F.onnx"
        )
    if backend == "torch" and onnx:
        raise ConfigError(
            f"--backend torch cannot load {weights}: use --backend onnxruntime for .onnx files"
        )
    from_dtype = precision_of_dtype(dtype)
    if precision is not None and dtype != torch.float32 and precision != from_dtype:
        raise ConfigError(
            f"--precision {precision} contradicts --dtype {str(dtype).replace('torch.', '')}; "
            "pass one of them"
        )
    if backend == "onnxruntime":
        if precision in ("bf16", "fp16") or dtype != torch.float32:
            raise ConfigError(
                "ONNX Runtime runs fp32 or int8 exports; use --backend torch for bf16/fp16"
            )
        return BackendChoice("onnxruntime", precision)
    precision = precision or from_dtype
    if precision == "int8":
        raise ConfigError(
            "int8 runs with ONNX Runtime: export with `endobench export --precision int8 "
            "--calibration DIR`, then pass --weights F.onnx"
        )
    if precision == "bf16" and device.type == "cpu":
        check_cpu_bf16()
    return BackendChoice("torch", precision)


def precision_unsupported(precision: str, device: torch.device) -> str | None:
    """Why PyTorch cannot run ``precision`` on ``device`` (None when it can)."""
    if device.type == "cpu" and precision == "fp16":
        return "fp16 autocast is not supported on the CPU"
    if device.type == "cpu" and precision == "bf16" and not cpu_supports_bf16():
        return "this CPU has no bf16 instructions"
    if device.type == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
        return "this GPU does not support bf16"
    return None


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str] | None:
    """Return the CPU's feature flags from Linux's ``/proc/cpuinfo``, or None where it is absent."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() in ("flags", "Features"):
            return set(line.split(":", 1)[1].split())
    return None


def cpu_supports_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU computes in bfloat16 natively (AVX512-BF16 or AMX on x86).

    Where the operating system lists no flags (not Linux), oneDNN's own check decides.

    Args:
        flags: The CPU flags (default: read from ``/proc/cpuinfo``).
    """
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(check()) if check is not None else False
    if "bf16" in flags:  # Arm's BF16 extension (Features line of aarch64 cpuinfo)
        return True
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def check_cpu_bf16(flags: set[str] | None = None) -> None:
    """Refuse bf16 on a CPU without bfloat16 instructions, in one line.

    Raises:
        ConfigError: The CPU lacks them (emulated bfloat16 is slower than fp32 there).
    """
    if not cpu_supports_bf16(flags):
        from endobench.env import cpu_name

        raise ConfigError(
            f"--precision bf16: this CPU ({cpu_name()}) has no bfloat16 instructions "
            f"({' or '.join(BF16_CPU_FLAGS)}); use --precision fp32"
        )
