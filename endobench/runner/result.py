"""What a finished run returns: per-set counts and scores, its timing record, its leaderboard record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SetResult:
    """What a run produced for one set.

    Attributes:
        images: Images in the set.
        inferred: Images inferred in this session.
        skipped: Images whose outputs an earlier session had finished (``--resume``).
        summary: The set's EndoCV2021 toolkit JSON, when it was scored.
        standard: The set's standard metrics, when it was scored.
        detection: The set's frame-level detection figures (:mod:`endobench.metrics.detection`),
            when it was scored.
        pranet_eval: PraNet's eval/main.m figures (``run --save-prob`` on a set with truth).
    """

    images: int
    inferred: int
    skipped: int
    summary: dict[str, Any] | None = None
    standard: dict[str, Any] | None = None
    detection: dict[str, Any] | None = None
    pranet_eval: dict[str, Any] | None = None


@dataclass
class RunResult:
    """A finished run: its folder, per-set results, timing record and leaderboard record path.

    ``detection`` holds the frame-level detection figures of the frames of all scored sets pooled
    (when more than one set was scored), as ``run.json`` records them.
    """

    run_dir: Path
    name: str
    sets: dict[str, SetResult] = field(default_factory=dict)
    detection: dict[str, Any] | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    record_path: Path | None = None
