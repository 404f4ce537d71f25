"""``manifest.json`` of a run folder: every input image with its set, name, file, size and hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError
from endobench.io import write_json_atomic

MANIFEST_JSON = "manifest.json"


def write_manifest(run_dir: str | Path, manifest: Mapping[str, list[Mapping[str, Any]]]) -> Path:
    """Write ``manifest.json``: per set, one entry per image (id, name, file, height, width)."""
    return write_json_atomic(
        Path(run_dir) / MANIFEST_JSON, {k: list(v) for k, v in manifest.items()}
    )


def read_manifest(run_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read ``manifest.json`` from a run folder.

    Raises:
        ConfigError: It is missing or unreadable.
    """
    path = Path(run_dir) / MANIFEST_JSON
    if not path.is_file():
        raise ConfigError(f"{path} not found: {run_dir} is not an endobench run folder")
    return read_run_file(path)


def read_run_file(path: Path) -> Any:
    """Read one JSON file of a run folder (``manifest.json``, ``run.json``).

    Raises:
        ConfigError: It is not valid JSON (naming it, and ``--force`` as the fix).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path} is not valid JSON ({err.msg}); rerun the run with --force"
        ) from err


def manifest_hash(manifest: Mapping[str, list[Mapping[str, Any]]]) -> str:
    """Return a sha256 over the manifest (sets, names, sizes and file hashes), order-independent."""
    rows = []
    for set_name in sorted(manifest):
        for entry in manifest[set_name]:
            rows.append(
                [set_name, entry["name"], entry["height"], entry["width"], entry.get("sha256", "")]
            )
    rows.sort()
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def fill_sizes(manifest: dict[str, list[dict]], previous: Mapping[str, list[Mapping]]) -> None:
    """Take image sizes that no header gave from an earlier session's manifest (resume)."""
    known = {(s, e["name"]): e for s, rows in previous.items() for e in rows if e.get("height")}
    for set_name, rows in manifest.items():
        for entry in rows:
            old = known.get((set_name, entry["name"]))
            if entry.get("height") is None and old is not None:
                entry["height"], entry["width"] = old["height"], old["width"]
