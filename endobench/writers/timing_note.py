"""What a submission says about its timing: an unstable run's warning and the time files' figures.

The challenge's ``timeElaspsed<set>.txt`` files are packaged whatever the timing's quality (the
challenge requires them); when the run's ``timing.json`` flags the timing unstable (see
:mod:`endobench.runner.conditions`), packaging names the run and the reasons in a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from endobench.writers.time_file import parse_time_file


def time_entries(read: Callable[[], bytes]) -> list[float]:
    """The per-image milliseconds of a time file (``average_t`` left out; unreadable: none)."""
    try:
        entries = parse_time_file(read().decode("utf-8", errors="replace"))
    except ValueError:
        return []
    return [ms for name, ms in entries if name != "average_t"]


def timing_warnings(run_dir: str | Path) -> list[str]:
    """Name a run whose ``timing.json`` calls its timing unstable (its time files are still
    packaged, as the challenge requires them); no timing, or one without the flag: none."""
    path = Path(run_dir) / "timing.json"
    try:
        timing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(timing, dict) or not timing.get("unstable"):
        return []
    reasons = "; ".join(timing.get("unstable_reasons") or ["reasons not recorded"])
    return [
        f"run {run_dir} has an unstable timing ({reasons}); its timeElaspsed files are packaged "
        "as measured: time it again on an idle machine before trusting them"
    ]
