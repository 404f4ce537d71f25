"""A tiny registered network for the export tests: the operators the real networks export.

It is the runner tests' :class:`TinyNet` with a strided convolution and a bilinear resize.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_tiny_model import register_tiny as _register  # noqa: E402

TINY = "export_tiny"
TINY_SIZE = 64


def register_tiny() -> str:
    """Register ``export_tiny`` once per process."""
    return _register(TINY, TINY_SIZE, "export tests", downsample=True)
