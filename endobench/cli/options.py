"""The command-line options that several commands share, each defined once, with its type.

A command names one in its signature (``skip_problems: SkipProblems = False``); typer reads the
option's name and help from the ``Annotated`` type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from endobench.devices import DEVICE_CHOICES


def _skip_problems(help_text: str):
    return Annotated[bool, typer.Option("--skip-problems", help=help_text)]


#: ``--skip-problems`` of the commands that read data sets (run, train, calibrate).
SkipProblems = _skip_problems(
    "Leave out and list pairing problems and unreadable files instead of refusing a set."
)
#: ``--skip-problems`` of ``score``.
SkipScoringProblems = _skip_problems(
    "Leave out and list truths without prediction, clashing names and unreadable files."
)
#: ``--skip-problems`` of ``datasets``.
SkipCountedProblems = _skip_problems(
    "Also read every file and count the unreadable ones as problems, as "
    "`run --skip-problems` does; the counts are then what it accepts."
)
#: ``--skip-problems`` of ``package --check``.
SkipUnreadableImages = _skip_problems(
    "With --check: list test images that cannot be read and go on without their size."
)

#: ``--device``: the one grammar of :mod:`endobench.devices`.
Device = Annotated[str, typer.Option("--device", help=f"{DEVICE_CHOICES}.")]

#: ``--data-root``: where named data sets are found.
DataRoot = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help="Folder holding the named data sets (default: $ENDOBENCH_DATA).",
        file_okay=False,
    ),
]

#: ``--progress/--no-progress``.
Progress = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show progress bars and the summary.")
]

#: ``--negatives`` of ``run`` and ``score``: folders of polyp-free frames.
NegativeFrames = Annotated[
    list[Path] | None,
    typer.Option(
        "--negatives",
        help="Folder of polyp-free frames (images): scored against all-background truths, with "
        "frame-level detection figures. Repeatable.",
    ),
]

#: ``--positives`` of ``run`` and ``score``: folders of polyp frames without masks.
PositiveFrames = Annotated[
    list[Path] | None,
    typer.Option(
        "--positives",
        help="Folder of polyp frames without masks (images): counted for frame-level "
        "sensitivity only. Repeatable.",
    ),
]


#: ``--negatives`` of ``train``: polyp-free frames to train and validate on.
TrainingNegatives = Annotated[
    list[str] | None,
    typer.Option(
        "--negatives",
        help="Folders of polyp-free frames: trained against an all-background target and "
        "validated (false-positive frame rate), split by sequence; repeatable.",
    ),
]

#: ``--negatives`` of ``calibrate``: polyp-free frames for the false-positive frame rate.
CalibrationNegatives = Annotated[
    list[str] | None,
    typer.Option(
        "--negatives",
        help="Folders of polyp-free frames for the false-positive frame rate; repeatable.",
    ),
]


def root_text(data_root: Path | None) -> str | None:
    """``--data-root`` as the libraries take it (a string, or None)."""
    return str(data_root) if data_root else None
