"""The device rule of every command: one grammar, checked without torch, resolved once.

A device specification is ``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda`` (the
process's local rank's GPU under torchrun, GPU 0 alone), ``cuda:N`` or ``mps``.
:func:`check_device` checks the grammar before anything loads (no torch imported);
:func:`resolve_device` turns it into the torch device once per command, which is then passed down.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from endobench.errors import ConfigError

if TYPE_CHECKING:  # torch is imported when a device is resolved, not with this module
    import torch

#: The accepted specifications, in words (for help texts and errors).
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"
_GRAMMAR = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device(spec: str) -> str:
    """Return ``spec`` when it follows the device grammar.

    Raises:
        ConfigError: It does not (the one-line error names the accepted forms).
    """
    if not _GRAMMAR.fullmatch(str(spec)):
        raise ConfigError(f"--device {spec!r} is not known; use {DEVICE_CHOICES}")
    return str(spec)


def resolve_device(spec: str | torch.device, local_rank: int = 0) -> torch.device:
    """Return the torch device of a specification.

    Args:
        spec: A specification (:func:`check_device`), or a torch device (returned as it is).
        local_rank: The GPU that a plain ``"cuda"`` (or ``"auto"`` on a CUDA machine) means: the
            process's local rank under torchrun, 0 otherwise.

    Returns:
        The device.

    Raises:
        ConfigError: The device is not known or not available here.
    """
    import torch

    if isinstance(spec, torch.device):
        return spec
    spec = check_device(spec)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"--device {spec}: no CUDA device is available here; use --device cpu or auto"
        )
    if spec == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(
            "--device mps: Apple's MPS backend is not available here; use --device cpu"
        )
    if spec == "cuda":
        return torch.device("cuda", int(local_rank))
    return torch.device(spec)
