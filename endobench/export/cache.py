"""Where endobench keeps what it builds once per machine: exports of the CPU fast path.

The folder is ``$ENDOBENCH_CACHE`` when set, else ``$XDG_CACHE_HOME/endobench``, else
``~/.cache/endobench``. An export is keyed by everything that decides its content: the weights'
sha256, the model, the input side and the ONNX Runtime and export format versions; a different key
is a different file, so nothing there is ever stale, only unused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

#: Environment variable naming the cache folder (tests point it at a temporary folder).
CACHE_ENV = "ENDOBENCH_CACHE"
#: Sub-folder of the cache holding the fast path's exports and their verification records.
EXPORTS_DIR = "onnx"


def cache_root() -> Path:
    """The user's endobench cache folder (not created here)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "endobench"


def export_key(
    weights_sha256: str, model: str, input_size: int, onnxruntime_version: str, opset: int
) -> dict[str, Any]:
    """Everything a cached export depends on, as recorded beside it."""
    return {
        "weights_sha256": weights_sha256,
        "model": model,
        "input_size": int(input_size),
        "onnxruntime": onnxruntime_version,
        "opset": int(opset),
    }


def export_paths(key: dict[str, Any], root: Path | None = None) -> tuple[Path, Path]:
    """The cached ``.onnx`` file of ``key`` and the JSON record of its verification.

    The name starts with the model and side, for a reader of the folder; a hash of the whole key
    makes it unique.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    stem = f"{key['model']}-{key['input_size']}-{digest}"
    folder = (root or cache_root()) / EXPORTS_DIR
    return folder / f"{stem}.onnx", folder / f"{stem}.json"
