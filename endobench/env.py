"""What a result was produced with: versions, git commit, machine. Recorded with every result."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from endobench import __version__


def git_commit(path: str | Path | None = None) -> str | None:
    """Return the commit of the git checkout holding ``path`` (default: this package), or None."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def cpu_name() -> str:
    """Return the CPU model name as the operating system reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(include_torch: bool = True) -> dict[str, Any]:
    """Describe the software and machine: what every run, record and checkpoint stores.

    Args:
        include_torch: Also record torch/timm versions, threads and the CUDA device (imports torch).

    Returns:
        A JSON-serialisable dictionary.
    """
    import numpy

    info: dict[str, Any] = {
        "endobench": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": _cpu_count(),
    }
    if include_torch:
        import timm
        import torch

        info.update(
            torch=torch.__version__,
            timm=timm.__version__,
            torch_threads=torch.get_num_threads(),
            cuda_available=torch.cuda.is_available(),
            cuda_device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        )
    return info


def _cpu_count() -> int:
    try:
        import os

        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        import os

        return os.cpu_count() or 1
