"""The EndoCV2021 toolkit's per-image time file, ``<set>_pred/timeElaspsed<set>.txt``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from endobench.io import write_text_atomic
from endobench.writers.masks import set_pred_dir


def time_file_path(run_dir: str | Path, set_name: str) -> Path:
    """Return ``<set>_pred/timeElaspsed<set>.txt`` (the toolkit's spelling)."""
    return set_pred_dir(run_dir, set_name) / f"timeElaspsed{set_name}.txt"


def format_time_file(entries: Iterable[tuple[str, float]]) -> str:
    """Format per-image times as the EndoCV2021 inference script writes them.

    Each line is ``<name> -----> <milliseconds> `` and the last line is ``average_t -----> <mean>``,
    exactly the ``'%s -----> %s \\n'`` lines of ``endocv2021_inference-seg.py``.
    """
    lines = []
    values = []
    for name, millis in entries:
        values.append(float(millis))
        lines.append(f"{name} -----> {float(millis)} \n")
    mean = sum(values) / len(values) if values else float("nan")
    lines.append(f"average_t -----> {mean} \n")
    return "".join(lines)


def parse_time_file(text: str) -> list[tuple[str, float]]:
    """Parse a ``timeElaspsed*.txt`` file into ``(name, milliseconds)`` pairs (``average_t`` included)."""
    entries = []
    for line in text.splitlines():
        if "----->" in line:
            name, value = line.split("----->", 1)
            entries.append((name.strip(), float(value.strip())))
    return entries


def write_time_file(
    run_dir: str | Path, set_name: str, entries: Iterable[tuple[str, float]]
) -> Path:
    """Write a set's ``timeElaspsed<set>.txt`` atomically and return its path."""
    return write_text_atomic(time_file_path(run_dir, set_name), format_time_file(entries))
